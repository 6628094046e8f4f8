'use strict';
// An arm64 Node to load the arm64 prebuild in, under qemu-user: Debian's nodejs:arm64 and the
// shared libraries it needs, unpacked into a sysroot cached in ~/.cache/devmapper-ship.
//
// apt-get runs with its own state, lists and archive directories and an empty dpkg status, and is
// told its architecture is arm64: so it resolves nodejs's whole dependency closure for arm64 and only
// downloads it, without `dpkg --add-architecture` or any change to this machine's apt or dpkg state.
// Usage: node scripts/ship/arm64-node.js   (prints the sysroot and the qemu command)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { sh: run } = require('./sh');
const apt = require('./apt');

const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'devmapper-ship');
const base = path.join(cacheDir, 'bookworm-arm64');
const sysroot = path.join(base, 'root');
const marker = path.join(base, 'complete.json');


function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;
}

/** qemu-user for aarch64: the static build if present, else the dynamic one from qemu-user. */
function qemu() {
  let q = which('qemu-aarch64-static') || which('qemu-aarch64');
  if (!q) {
    apt.ensure(['qemu-user']);
    q = which('qemu-aarch64');
  }
  if (!q) throw new Error('no qemu-aarch64 after installing qemu-user');
  return q;
}

function aptArgs() {
  const a = path.join(base, 'apt');
  for (const d of ['lists/partial', 'archives/partial', 'etc']) fs.mkdirSync(path.join(a, d), { recursive: true });
  const status = path.join(a, 'status');
  if (!fs.existsSync(status)) fs.writeFileSync(status, '');
  return [
    '-q', '-y',
    '-o', 'APT::Architecture=arm64', '-o', 'APT::Architectures::=arm64',
    '-o', `Dir::State=${a}`, '-o', `Dir::State::Lists=${a}/lists`, '-o', `Dir::State::status=${status}`,
    '-o', `Dir::Cache=${a}`, '-o', `Dir::Cache::archives=${a}/archives`,
    '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root',
    '-o', 'APT::Install-Recommends=0', '-o', 'APT::Get::Download-Only=1',
  ];
}

/** Returns { sysroot, node, qemu, version } , building the sysroot on first use. */
function ensure() {
  const q = qemu();
  if (fs.existsSync(marker)) {
    const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
    return { sysroot, node: path.join(sysroot, 'usr/bin/node'), qemu: q, version: m.version };
  }
  apt.ensure(['dpkg', 'apt'], ['dpkg-deb', 'apt-get']);
  console.log(`arm64-node: fetching Debian's nodejs:arm64 and its dependencies into ${base}`);
  const args = aptArgs();
  run('apt-get', [...args, 'update']);
  run('apt-get', [...args, 'install', 'nodejs'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const debs = fs.readdirSync(path.join(base, 'apt/archives')).filter((f) => f.endsWith('.deb'));
  if (!debs.some((f) => f.startsWith('nodejs_'))) throw new Error('apt-get downloaded no nodejs package');
  fs.rmSync(sysroot, { recursive: true, force: true });
  fs.mkdirSync(sysroot, { recursive: true });
  for (const f of debs) run('dpkg-deb', ['-x', path.join(base, 'apt/archives', f), sysroot]);
  const node = path.join(sysroot, 'usr/bin/node');
  const version = run(q, ['-L', sysroot, node, '-p', '`${process.version} ${process.arch} napi ${process.versions.napi}`']).trim();
  // Debs are unpacked; keep the sysroot, drop the downloads and package lists.
  fs.rmSync(path.join(base, 'apt'), { recursive: true, force: true });
  fs.writeFileSync(marker, JSON.stringify({ version, packages: debs.sort() }, null, 1) + '\n');
  console.log(`arm64-node: ${version} from ${debs.length} packages`);
  return { sysroot, node, qemu: q, version };
}

module.exports = { ensure };

if (require.main === module) {
  try {
    const r = ensure();
    console.log(`${r.version}: ${r.qemu} -L ${r.sysroot} ${r.node}`);
  } catch (e) {
    console.error(`arm64-node: ${e.message}`);
    process.exit(1);
  }
}
