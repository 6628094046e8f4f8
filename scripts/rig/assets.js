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

function ensureQemu() {
  let q = which('qemu-system-x86_64');
  if (q) return q;
  aptUpdate();
  log('installing qemu-system-x86');
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'qemu-system-x86'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  q = which('qemu-system-x86_64');
  if (!q) throw new Error('qemu-system-x86_64 still missing after apt-get install');
  return q;
}

/** Downloads a Debian package (without installing it) and unpacks it under .rig/pkg/<name>. */
function unpackDeb(pkg) {
  const dir = path.join(CACHE, 'pkg', pkg);
  if (fs.existsSync(path.join(dir, '.done'))) return dir;
  const dl = path.join(CACHE, 'dl');
  fs.mkdirSync(dl, { recursive: true });
  const before = new Set(fs.readdirSync(dl));
  try {
    sh('apt-get', ['download', pkg], { cwd: dl });
  } catch {
    aptUpdate();
    sh('apt-get', ['download', pkg], { cwd: dl });
  }
  const deb = fs.readdirSync(dl).find((f) => !before.has(f) && f.startsWith(`${pkg}_`))
    ?? fs.readdirSync(dl).find((f) => f.startsWith(`${pkg}_`));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  sh('dpkg-deb', ['-x', path.join(dl, deb), dir]);
  fs.writeFileSync(path.join(dir, '.done'), deb);
  return dir;
}

/** Debian's stock kernel: the metapackage names the versioned image package to fetch. */
function kernelPackage() {
  const meta = unpackDeb('linux-image-amd64');
  const deps = sh('dpkg-deb', ['-f', path.join(CACHE, 'dl', fs.readFileSync(path.join(meta, '.done'), 'utf8')), 'Depends']);
  const m = /linux-image-[0-9][^\s,]*/.exec(deps);
  if (!m) throw new Error(`cannot find the kernel image package in: ${deps}`);
  return m[0];
}

function ensureKernel() {
  const dir = unpackDeb(kernelPackage());
  const boot = path.join(dir, 'boot');
  const vmlinuz = fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
  const release = vmlinuz.slice('vmlinuz-'.length);
  return { vmlinuz: path.join(boot, vmlinuz), modules: path.join(dir, 'lib', 'modules', release), release };
}

function ensureBusybox() {
  return path.join(unpackDeb('busybox-static'), 'bin', 'busybox');
}

module.exports = { CACHE, ensureQemu, ensureKernel, ensureBusybox, log, which, unpackDeb };
