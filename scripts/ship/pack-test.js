'use strict';
// The packaging test: packs devmapper as `npm publish` would, checks what the tarball holds, installs
// it where no compiler can be found and proves the addon then comes from prebuilds/linux-x64, and
// loads the arm64 prebuild in Debian's arm64 Node under qemu-user.
// Usage: node scripts/ship/pack-test.js [--keep]   (exit 1 on any failure; --keep leaves the temp dir)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { run: shRun } = require('./sh');
const apt = require('./apt');
const elf = require('./elf-check');
const arm64Node = require('./arm64-node');

const root = path.resolve(__dirname, '..', '..');
const keep = process.argv.includes('--keep');
const t0 = Date.now();
const results = [];
const facts = [];

function secs(t) {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`;
}
function ok(what) {
  results.push({ ok: true, what });
  console.log(`ok   ${what}`);
}
function fail(what, why) {
  results.push({ ok: false, what });
  console.log(`FAIL ${what}: ${String(why).split('\n').filter(Boolean).join(' | ')}`);
}
function check(what, fn) {
  try {
    const r = fn();
    if (r === false) throw new Error('check returned false');
    ok(typeof r === 'string' ? `${what} (${r})` : what);
    return true;
  } catch (e) {
    fail(what, e.message);
    return false;
  }
}
const run = (cmd, args, opts = {}) => shRun(cmd, args, { timeout: 600e3, ...opts });
function step(text) {
  console.log(`\n== ${text} [${secs(t0)}]`);
}
function walk(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devmapper-pack-test-'));
try {
  main();
} catch (e) {
  fail('pack test', e.stack || e.message);
} finally {
  if (keep) console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok);
console.log(`\n== summary: ${results.length - failed.length} of ${results.length} checks passed in ${secs(t0)}`);
for (const f of facts) console.log(`   ${f}`);
for (const f of failed) console.log(`   FAILED: ${f.what}`);
process.exit(failed.length ? 1 : 0);

function main() {
  apt.ensure(['binutils', 'tar'], ['readelf', 'tar']);

  // 1. Pack exactly as publish would: prepack compiles TypeScript and the prebuilds for both arches.
  step('npm pack (runs prepack: build:ts and prebuilds for linux-x64 and linux-arm64)');
  let t = Date.now();
  const packed = run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  // Lifecycle scripts print to the same stdout as --json; the JSON is the last top-level array.
  const jsonAt = packed.stdout.lastIndexOf('\n[\n');
  const scriptOutput = packed.stdout.slice(0, Math.max(jsonAt, 0)).split('\n').filter((l) => /^(> |prebuilds:|apt)/.test(l));
  for (const l of scriptOutput) console.log(`   ${l}`);
  const info = JSON.parse(jsonAt >= 0 ? packed.stdout.slice(jsonAt) : packed.stdout)[0];
  const tgz = path.join(tmp, info.filename);
  ok(`npm pack made ${info.filename} in ${secs(t)}`);
  facts.push(`package: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${info.entryCount} files`);
  const files = info.files.map((f) => f.path);

  // 2. What the tarball holds.
  step('tarball contents');
  const prebuilt = {};
  for (const arch of ['x64', 'arm64']) {
    check(`tarball has a glibc prebuild for linux-${arch}`, () => {
      const p = files.filter((f) => f.startsWith(`prebuilds/linux-${arch}/`));
      if (p.length !== 1 || !/\.glibc\.node$/.test(p[0])) throw new Error(`found ${p.join(' ') || 'none'}`);
      prebuilt[arch] = p[0];
      return p[0];
    });
  }
  check('tarball has no test rig, build output or checkout clutter', () => {
    const bad = files.filter((f) => /^(scripts|test|tests|bench|\.rig|\.ci|build|node_modules|coverage|\.github)\//.test(f) ||
      /^(vitest\.|tsconfig|\.git|\.npmrc)/.test(f) || /\.(log|tgz)$/.test(f));
    if (bad.length) throw new Error(`${bad.length} files, e.g. ${bad.slice(0, 5).join(' ')}`);
  });
  check('tarball has what a source build needs (binding.gyp and every source it names)', () => {
    const gyp = fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8');
    const need = ['binding.gyp', ...[...gyp.matchAll(/"(native\/[^"]+)"/g)].map((m) => m[1])];
    for (const h of fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.h'))) need.push(`native/${h}`);
    const missing = need.filter((f) => !files.includes(f));
    if (missing.length) throw new Error(`missing ${missing.join(' ')}`);
    return `${need.length} files`;
  });
  check('tarball has the entry points and shipped unit files', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const need = ['package.json', pkg.main, pkg.types, ...Object.values(pkg.bin || {}),
      ...fs.readdirSync(path.join(root, 'systemd')).map((f) => `systemd/${f}`)].map((f) => path.normalize(f));
    const missing = need.filter((f) => !files.includes(f));
    if (missing.length) throw new Error(`missing ${missing.join(' ')}`);
  });

  step('unpacked tarball: what dist/ requires at run time, ELF of the prebuilds');
  const unpacked = path.join(tmp, 'unpacked');
  fs.mkdirSync(unpacked);
  run('tar', ['-xzf', tgz, '-C', unpacked]);
  const pkgDir = path.join(unpacked, 'package');
  check('every relative require() in dist/ resolves inside the tarball, and every other one is a dependency or built-in', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    const deps = new Set(Object.keys(pkg.dependencies || {}));
    const builtins = new Set(require('node:module').builtinModules);
    const bad = [];
    let n = 0;
    for (const f of walk(path.join(pkgDir, 'dist')).filter((x) => x.endsWith('.js'))) {
      const src = fs.readFileSync(path.join(pkgDir, 'dist', f), 'utf8');
      for (const m of src.matchAll(/\brequire\(\s*(['"])([^'"]+)\1\s*\)/g)) {
        const spec = m[2];
        n++;
        if (spec.startsWith('.')) {
          try {
            require.resolve(path.resolve(pkgDir, 'dist', path.dirname(f), spec));
          } catch {
            bad.push(`dist/${f} -> ${spec}`);
          }
        } else if (!builtins.has(spec.replace(/^node:/, '')) && !deps.has(spec.split('/')[0])) {
          bad.push(`dist/${f} -> ${spec} (not a dependency)`);
        }
      }
    }
    if (bad.length) throw new Error(bad.slice(0, 5).join(', '));
    return `${n} requires`;
  });
  check('every dist/ module has its src/ source (no stale output from deleted sources)', () => {
    const stale = walk(path.join(pkgDir, 'dist')).filter((f) => f.endsWith('.js'))
      .filter((f) => !fs.existsSync(path.join(root, 'src', f.replace(/\.js$/, '.ts'))));
    if (stale.length) throw new Error(`${stale.join(' ')} (delete dist/ and pack again)`);
  });
  const glibc = new Set();
  for (const arch of ['x64', 'arm64']) {
    if (!prebuilt[arch]) continue;
    check(`ELF of ${prebuilt[arch]}: machine, stripped, imports only N-API unversioned`, () => {
      const r = elf.check(path.join(pkgDir, prebuilt[arch]), arch);
      if (r.problems.length) throw new Error(r.problems.join('; '));
      glibc.add(`${arch}: ${r.glibc}, ${r.glibcxx}, ${r.cxxabi}`);
      return `${r.machine}; needs ${r.glibc}, ${r.glibcxx}`;
    });
  }
  if (glibc.size) facts.push(`prebuilds need ${[...glibc].join('; ')}`);

  // 3. Install where only node and npm can be found: a compiler, make or python3 on PATH would let a
  // failed prebuild lookup fall back to a source build unnoticed.
  step('npm install of the tarball with only node and npm on PATH');
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  for (const tool of ['node', 'npm']) {
    const found = tool === 'node' ? process.execPath : run('sh', ['-c', 'command -v npm']).stdout.trim();
    fs.symlinkSync(fs.realpathSync(found), path.join(bin, tool));
  }
  // npm_* variables leak in when this runs under npm; they would configure the inner npm and node-gyp.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
    !/^(npm_|NODE_|PREBUILD|CC$|CXX$|LINK$|AR$)/i.test(k)));
  env.PATH = bin;
  check('g++, gcc, cc, c++, make, python3, python are not found on that PATH', () => {
    const found = ['g++', 'gcc', 'cc', 'c++', 'make', 'python3', 'python'].filter((c) =>
      spawnSync('/bin/sh', ['-c', `command -v ${c}`], { env }).status === 0);
    if (found.length) throw new Error(`found ${found.join(' ')}`);
    return `PATH=${bin}: ${fs.readdirSync(bin).join(' ')}`;
  });
  const proj = path.join(tmp, 'project');
  fs.mkdirSync(proj);
  // npm 11 blocks dependencies' install scripts unless allowScripts names them; allowing devmapper's
  // makes node-gyp-build run at install, and it falls back to node-gyp (and fails here) unless the
  // prebuild loads.
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({
    name: 'pack-test-project', version: '1.0.0', private: true, allowScripts: { devmapper: true },
  }) + '\n');
  t = Date.now();
  const installed = check('npm install <tgz> (dependency install scripts allowed for devmapper)', () => {
    const r = run(path.join(bin, 'npm'), ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund',
      '--no-update-notifier', '--foreground-scripts', '--script-shell=/bin/sh', '--loglevel=info'], { cwd: proj, env });
    const log = `${r.stdout}\n${r.stderr}`;
    // node-gyp-build's install script found a working prebuild, or it would have run node-gyp and failed.
    if (!/run devmapper@[^ ]+ install .*node-gyp-build/.test(log)) throw new Error(`devmapper's install script did not run:\n${log}`);
    return `install script ran node-gyp-build without a compiler, ${secs(t)}`;
  });
  if (installed) {
    const dir = path.join(proj, 'node_modules', 'devmapper');
    check('installed package has no build/ directory', () => !fs.existsSync(path.join(dir, 'build')));
    check('require("devmapper") loads prebuilds/linux-x64 and its functions run; devmapper/dm and devmapper/testing resolve', () => {
      const probe = `
        const d = require('devmapper');
        const loaded = [...new Set(require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n')
          .map((l) => l.split(/\\s+/).slice(5).join(' ')).filter((p) => p.endsWith('.node')))];
        const table = d.formatTable(d.parseTable('0 2048 linear 7:0 0\\n2048 2048 zero'))
          .split('\\n').map((l) => l.trimEnd()).filter(Boolean).join('|');
        let version;
        try { version = require('devmapper/dm').versionSync().version.join('.'); } catch (e) { version = e.code || e.message; }
        const entries = { dmOnMain: 'dm' in d, hooks: typeof require('devmapper/testing').setFaultHook };
        console.log(JSON.stringify({ loaded, table, version, entries }));`;
      const r = run(path.join(bin, 'node'), ['-e', probe], { cwd: proj, env });
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      const want = fs.realpathSync(path.join(dir, prebuilt.x64));
      if (out.loaded.length !== 1 || out.loaded[0] !== want) throw new Error(`loaded ${out.loaded.join(' ') || 'no .node'}, want ${want}`);
      if (out.table !== '0 2048 linear 7:0 0|2048 2048 zero') throw new Error(`parseTable/formatTable gave ${JSON.stringify(out.table)}`);
      // The dm-ioctl VERSION call runs native code; without device-mapper in the kernel it fails with an errno.
      if (!/^\d+\.\d+\.\d+$|^E[A-Z]+$/.test(out.version)) throw new Error(`dm.versionSync(): ${out.version}`);
      if (out.entries.dmOnMain || out.entries.hooks !== 'function') throw new Error(`exports map: ${JSON.stringify(out.entries)}`);
      return `mapped ${path.relative(proj, out.loaded[0])}; dm.versionSync() -> ${out.version}`;
    });
    check('node_modules/.bin/dmctl --help runs', () => {
      const r = run(path.join(proj, 'node_modules', '.bin', 'dmctl'), ['--help'], { cwd: proj, env });
      if (!/Usage: dmctl/.test(r.stdout)) throw new Error(`unexpected output: ${r.stdout.slice(0, 200)}`);
    });
  }

  // 4. The arm64 prebuild in a real arm64 Node (Debian's, under qemu-user).
  step('arm64 prebuild in Debian\'s nodejs:arm64 under qemu-user');
  if (!prebuilt.arm64) return;
  let a;
  if (!check('arm64 Node under qemu-user', () => {
    a = arm64Node.ensure();
    return a.version;
  })) return;
  check('node-gyp-build resolves prebuilds/linux-arm64 on arm64 and its native codec runs', () => {
    const probe = `
      const dir = process.argv[1];
      const file = require(dir + '/node_modules/node-gyp-build').resolve(dir);
      const n = require(file);
      const reply = n.dmDecode(0, n.dmEncode(0, { name: 'pack-test' }, 64));
      console.log(JSON.stringify({ arch: process.arch, file, version: reply.version, name: reply.name }));`;
    // The package's prebuilds and the node-gyp-build it resolves with (from the install, if it worked).
    const ngb = path.dirname(require.resolve('node-gyp-build/package.json',
      { paths: [path.join(proj, 'node_modules', 'devmapper'), root] }));
    const shim = path.join(tmp, 'arm64-probe');
    fs.mkdirSync(path.join(shim, 'node_modules'), { recursive: true });
    fs.cpSync(path.join(pkgDir, 'prebuilds'), path.join(shim, 'prebuilds'), { recursive: true });
    fs.copyFileSync(path.join(pkgDir, 'package.json'), path.join(shim, 'package.json'));
    fs.cpSync(ngb, path.join(shim, 'node_modules', 'node-gyp-build'), { recursive: true });
    const r = run(a.qemu, ['-L', a.sysroot, a.node, '-e', probe, shim], { timeout: 120e3 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    if (out.arch !== 'arm64') throw new Error(`process.arch is ${out.arch}`);
    if (out.file !== path.join(shim, prebuilt.arm64)) throw new Error(`resolved ${out.file}`);
    if (out.version.join('.') !== '4.0.0' || out.name !== 'pack-test') throw new Error(`codec round trip gave ${JSON.stringify(out)}`);
    return `${path.relative(shim, out.file)}; dmEncode/dmDecode round trip`;
  });
}
