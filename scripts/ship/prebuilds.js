'use strict';
// Makes prebuilds/linux-x64 and prebuilds/linux-arm64 (glibc) with prebuildify, arm64 cross-compiled
// with Debian's g++-aarch64-linux-gnu. Usage: node scripts/ship/prebuilds.js [x64] [arm64] [--force]
//
// Each build runs in a scratch copy of binding.gyp + native/, never in the checkout: prebuildify runs
// `node-gyp rebuild`, and node-gyp-build prefers build/Release over prebuilds/, so an arm64 build
// left in build/ would break every later test run on this machine.
// A build is skipped when its inputs (sources, toolchain, headers) hash to the stamp of the last one
// and its output is unchanged, which keeps `npm pack` (prepack) quick when nothing native changed.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { sh } = require('./sh');
const apt = require('./apt');

const root = path.resolve(__dirname, '..', '..');
const stampDir = path.join(root, 'node_modules', '.cache', 'devmapper-ship');

// Debian packages per target arch: the native toolchain for the host's arch, a cross one otherwise.
const CROSS = {
  x64: { packages: ['g++-x86-64-linux-gnu', 'binutils-x86-64-linux-gnu', 'make'], prefix: 'x86_64-linux-gnu-' },
  arm64: { packages: ['g++-aarch64-linux-gnu', 'binutils-aarch64-linux-gnu', 'make'], prefix: 'aarch64-linux-gnu-' },
};
function toolchain(arch) {
  if (arch === os.arch()) return { packages: ['g++', 'make', 'binutils'], prefix: '' };
  if (CROSS[arch]) return CROSS[arch];
  throw new Error(`no toolchain for arch ${arch} (known: ${Object.keys(CROSS).join(', ')})`);
}


// Headers of the running node, so node-gyp needs no download (N-API headers are the same for all).
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function inputsHash(arch, tc) {
  const h = crypto.createHash('sha256');
  // binding.gyp builds from native/'s top level only (native/fuzz/ is the sanitizer build's).
  const native = fs.readdirSync(path.join(root, 'native'), { withFileTypes: true }).filter((e) => e.isFile());
  const files = ['binding.gyp', ...native.map((e) => `native/${e.name}`).sort()];
  for (const f of files) h.update(f).update('\0').update(fs.readFileSync(path.join(root, f))).update('\0');
  for (const p of ['node-addon-api', 'node-gyp', 'prebuildify']) {
    h.update(`${p}@${require(path.join(root, 'node_modules', p, 'package.json')).version}\0`);
  }
  h.update(sh(`${tc.prefix}g++`, ['--version'])).update(process.version).update(arch);
  return h.digest('hex');
}

function outDir(arch) {
  return path.join(root, 'prebuilds', `linux-${arch}`);
}

function build(arch, force) {
  const tc = toolchain(arch);
  apt.ensure(tc.packages, [`${tc.prefix}g++`, `${tc.prefix}strip`, 'make']);
  const hash = inputsHash(arch, tc);
  const stamp = path.join(stampDir, `prebuild-linux-${arch}.json`);
  const dest = outDir(arch);
  if (!force) {
    try {
      const s = JSON.parse(fs.readFileSync(stamp, 'utf8'));
      if (s.inputs === hash && sha256(fs.readFileSync(path.join(dest, s.file))) === s.output &&
          fs.readdirSync(dest).length === 1) {
        console.log(`prebuilds: linux-${arch} up to date (${path.relative(root, path.join(dest, s.file))})`);
        return;
      }
    } catch {
      // no stamp or no output: build
    }
  }

  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `devmapper-prebuild-${arch}-`));
  try {
    fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(work, 'binding.gyp'));
    fs.copyFileSync(path.join(root, 'package.json'), path.join(work, 'package.json'));
    fs.cpSync(path.join(root, 'native'), path.join(work, 'native'), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'));
    const env = { ...process.env, JOBS: String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) };
    const nd = nodeDir();
    if (nd) env.npm_config_nodedir = nd;
    if (tc.prefix) {
      Object.assign(env, {
        CC: `${tc.prefix}gcc`, CXX: `${tc.prefix}g++`, LINK: `${tc.prefix}g++`, AR: `${tc.prefix}ar`,
        CC_host: 'gcc', CXX_host: 'g++', LINK_host: 'g++', AR_host: 'ar',
      });
    }
    console.log(`prebuilds: building linux-${arch}${tc.prefix ? ` with ${tc.prefix}g++` : ''}`);
    sh(process.execPath, [
      path.join(root, 'node_modules', 'prebuildify', 'bin.js'),
      '--napi', '--strip', '--tag-libc', `--arch=${arch}`, `--target=node@${process.versions.node}`,
      `--strip-bin=${tc.prefix}strip`, `--cache=${path.join(os.tmpdir(), 'prebuildify')}`,
    ], { cwd: work, env });
    const built = path.join(work, 'prebuilds', `linux-${arch}`);
    const files = fs.readdirSync(built).filter((f) => f.endsWith('.node'));
    if (files.length !== 1) throw new Error(`expected one .node in ${built}, found: ${files.join(' ') || 'none'}`);
    // Replace the whole directory so that a prebuild of an older name never ships next to the new one.
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(dest, { recursive: true });
    fs.copyFileSync(path.join(built, files[0]), path.join(dest, files[0]));
    fs.mkdirSync(stampDir, { recursive: true });
    const output = sha256(fs.readFileSync(path.join(dest, files[0])));
    fs.writeFileSync(stamp, JSON.stringify({ inputs: hash, file: files[0], output }) + '\n');
    console.log(`prebuilds: linux-${arch} built in ${((Date.now() - t0) / 1000).toFixed(0)} s ` +
      `(${path.relative(root, path.join(dest, files[0]))}, ${fs.statSync(path.join(dest, files[0])).size} bytes)`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { build, outDir };

if (require.main === module) {
  const args = process.argv.slice(2);
  const force = args.includes('--force');
  const arches = args.filter((a) => !a.startsWith('--'));
  try {
    for (const arch of arches.length ? arches : ['x64', 'arm64']) build(arch, force);
  } catch (e) {
    console.error(`prebuilds: ${e.message}`);
    process.exit(1);
  }
}
