'use strict';
// Everything the rig needs comes from Debian's archive, fetched on first use into .rig/.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const CACHE = path.resolve(__dirname, '..', '..', '.rig');

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function which(bin) {
  try {
    return sh('sh', ['-c', `command -v ${bin}`]).trim() || null;
  } catch {
    return null;
  }
}

let aptUpdated = false;
function aptUpdate() {
  if (aptUpdated) return;
  log('apt-get update');
  sh('apt-get', ['update', '-qq']);
  aptUpdated = true;
}

function log(msg) {
  process.stderr.write(`[rig] ${msg}\n`);
}

const tools = new Map();
/** A host tool, installed from the host's apt sources when it is missing. */
function ensureTool(bin, pkg) {
  if (tools.has(bin)) return tools.get(bin);
  let found = which(bin);
  if (found) return tools.set(bin, found).get(bin);
  aptUpdate();
  log(`installing ${pkg}`);
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  found = which(bin);
  if (!found) throw new Error(`${bin} still missing after apt-get install ${pkg}`);
  return tools.set(bin, found).get(bin);
}

const ensureQemu = () => ensureTool('qemu-system-x86_64', 'qemu-system-x86');

// bookworm is this machine's own suite: its kernel comes through the host's apt sources, as it
// always has. The newer suites come through a private apt state under .rig/apt/<suite>, so the
// machine's apt sources stay as they are.
const SUITES = ['bookworm', 'trixie', 'sid'];
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

function kernelSuite(name = process.env.DEVMAPPER_RIG_KERNEL || 'bookworm') {
  if (!SUITES.includes(name)) throw new Error(`unknown rig kernel "${name}" (--kernel or DEVMAPPER_RIG_KERNEL): expected one of ${SUITES.join(', ')}`);
  return name;
}

function aptFor(suite) {
  if (suite === 'bookworm') return { opts: [], dir: CACHE, update: aptUpdate };
  const root = path.join(CACHE, 'apt', suite);
  const lists = path.join(root, 'lists');
  fs.mkdirSync(path.join(lists, 'partial'), { recursive: true });
  fs.mkdirSync(path.join(root, 'cache', 'archives', 'partial'), { recursive: true });
  const sources = path.join(root, 'sources.list');
  fs.writeFileSync(sources, `deb [signed-by=${KEYRING}] http://deb.debian.org/debian ${suite} main\n`);
  const opts = [
    '-o', `Dir::Etc::SourceList=${sources}`, '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${lists}`, '-o', `Dir::Cache=${path.join(root, 'cache')}`,
    '-o', 'Dir::State::Status=/dev/null', '-o', 'APT::Architecture=amd64',
  ];
  let done = false;
  const update = () => {
    if (done) return;
    log(`apt-get update (${suite}, private lists in ${path.relative(process.cwd(), lists)})`);
    sh('apt-get', ['update', '-qq', ...opts]);
    done = true;
  };
  return { opts, dir: path.join(CACHE, suite), update };
}

/** Downloads a Debian package (without installing it) and unpacks it under <dir>/pkg/<name>. */
function unpackDeb(pkg, apt = aptFor('bookworm')) {
  const dir = path.join(apt.dir, 'pkg', pkg);
  if (fs.existsSync(path.join(dir, '.done'))) return dir;
  const dl = path.join(apt.dir, 'dl');
  fs.mkdirSync(dl, { recursive: true });
  const before = new Set(fs.readdirSync(dl));
  try {
    sh('apt-get', [...apt.opts, 'download', pkg], { cwd: dl });
  } catch {
    apt.update();
    sh('apt-get', [...apt.opts, 'download', pkg], { cwd: dl });
  }
  // apt-get download escapes the epoch's colon as %3a, and a '+' stays as it is.
  const deb = fs.readdirSync(dl).find((f) => !before.has(f) && f.startsWith(`${pkg}_`))
    ?? fs.readdirSync(dl).find((f) => f.startsWith(`${pkg}_`));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  sh('dpkg-deb', ['-x', path.join(dl, deb), dir]);
  fs.writeFileSync(path.join(dir, '.done'), deb);
  return dir;
}

function depends(pkgDir, apt) {
  const deb = path.join(apt.dir, 'dl', fs.readFileSync(path.join(pkgDir, '.done'), 'utf8'));
  return sh('dpkg-deb', ['-f', deb, 'Depends']);
}

/**
 * Debian's stock kernel: the metapackage names the versioned image package. Up to trixie that
 * package holds vmlinuz and the modules; newer suites split them into linux-binary-<abi> and
 * linux-modules-<abi>, which the image package depends on.
 */
function kernelPackages(apt) {
  const deps = depends(unpackDeb('linux-image-amd64', apt), apt);
  const image = /linux-image-[0-9][^\s,]*/.exec(deps);
  if (!image) throw new Error(`cannot find the kernel image package in: ${deps}`);
  const parts = depends(unpackDeb(image[0], apt), apt).match(/linux-(binary|modules)-[0-9][^\s,]*/g) ?? [];
  return [image[0], ...parts];
}

// vmlinuz sits in /boot up to trixie; sid's linux-binary puts it at /usr/lib/modules/<release>/vmlinuz.
function findRelease(dirs) {
  for (const dir of dirs) {
    const boot = path.join(dir, 'boot');
    const vmlinuz = fs.existsSync(boot) && fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (vmlinuz) return { vmlinuz: path.join(boot, vmlinuz), release: vmlinuz.slice('vmlinuz-'.length) };
    const mods = path.join(dir, 'usr', 'lib', 'modules');
    for (const release of fs.existsSync(mods) ? fs.readdirSync(mods) : []) {
      const file = path.join(mods, release, 'vmlinuz');
      if (fs.existsSync(file)) return { vmlinuz: file, release };
    }
  }
  throw new Error(`no vmlinuz in ${dirs.join(', ')}`);
}

function ensureKernel(suite = kernelSuite()) {
  const apt = aptFor(suite);
  const dirs = kernelPackages(apt).map((p) => unpackDeb(p, apt));
  const { vmlinuz, release } = findRelease(dirs);
  // Newer packages keep modules under /usr/lib/modules (merged /usr).
  const modules = dirs.flatMap((d) => ['lib', 'usr/lib'].map((l) => path.join(d, l, 'modules', release)))
    .find((d) => fs.existsSync(path.join(d, 'kernel')));
  if (!modules) throw new Error(`no modules for ${release} in ${dirs.join(', ')}`);
  return { vmlinuz, modules, release, suite };
}

function ensureBusybox() {
  return path.join(unpackDeb('busybox-static'), 'bin', 'busybox');
}

module.exports = { CACHE, SUITES, kernelSuite, ensureTool, ensureQemu, ensureKernel, ensureBusybox, log, which, unpackDeb };
