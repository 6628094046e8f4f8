'use strict';
// The sanitizer toolchain: clang with its ASan/UBSan/libFuzzer runtimes, cmake and make,
// installed from Debian's packages on first use, and the sanitized build (CMakeLists.txt through
// cmake-js into build-sanitize/). Shared by sanitize.js, sanitized-unit.js and fuzz.js.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD_DIR = path.join(ROOT, 'build-sanitize');
const ADDON = path.join(BUILD_DIR, 'Release', 'devmapper.node');
const FUZZER = path.join(BUILD_DIR, 'dm_codec_fuzz');
const SEEDER = path.join(BUILD_DIR, 'dm_codec_seeds');
const FUZZ_DIR = path.join(ROOT, '.fuzz');

// A sanitizer report in a process's output: any of these fails the run, whatever the exit code.
const REPORT_PATTERNS = [
  /ERROR: AddressSanitizer/,
  /ERROR: LeakSanitizer/,
  /runtime error:/,
  /SUMMARY: UndefinedBehaviorSanitizer/,
  /ERROR: libFuzzer/,
  /dm_codec_fuzz: claim violated/,
];

function log(msg) {
  process.stderr.write(`[sanitize] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 128;
}

function capture(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  return r.status === 0 ? r.stdout.trim() : null;
}

function have(cmd) {
  return capture('sh', ['-c', `command -v ${cmd}`]) !== null;
}

function clangMajor() {
  const v = capture('clang', ['-dumpversion']);
  return v ? v.split('.')[0] : null;
}

// A runtime library clang knows the path of; null when clang prints the bare name (not installed).
function clangRuntime(file) {
  const p = capture('clang', [`-print-file-name=${file}`]);
  return p && path.isAbsolute(p) && fs.existsSync(p) ? p : null;
}

function missing() {
  const out = [];
  for (const cmd of ['clang', 'clang++', 'cmake', 'make']) if (!have(cmd)) out.push(cmd);
  if (have('clang')) {
    for (const rt of ['libclang_rt.asan-x86_64.so', 'libclang_rt.fuzzer-x86_64.a', 'libclang_rt.ubsan_standalone-x86_64.a'])
      if (!clangRuntime(rt)) out.push(rt);
  }
  return out;
}

/** Installs what is missing with apt-get (Debian: clang, libclang-rt-<N>-dev, cmake, make). */
function ensureToolchain() {
  let gaps = missing();
  if (gaps.length === 0) return;
  log(`missing: ${gaps.join(', ')}; installing from Debian packages`);
  if (!have('apt-get')) throw new Error(`sanitizer toolchain missing (${gaps.join(', ')}) and no apt-get to install it`);
  const asRoot = !process.getuid || process.getuid() === 0;
  const apt = (args) => {
    const [cmd, pre] = asRoot ? ['apt-get', []] : ['sudo', ['apt-get']];
    const status = run(cmd, [...pre, ...args], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${status})`);
  };
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', 'clang', 'cmake', 'make']);
  // The sanitizer and libFuzzer runtimes come in a package named after clang's major version
  // (bookworm: clang 14 -> libclang-rt-14-dev, which carries libclang_rt.fuzzer too).
  const major = clangMajor();
  if (!major) throw new Error('clang did not install');
  apt(['install', '-y', '-qq', '--no-install-recommends', `libclang-rt-${major}-dev`]);
  gaps = missing();
  if (gaps.length) throw new Error(`still missing after apt-get: ${gaps.join(', ')}`);
}

function asanRuntime() {
  const p = clangRuntime('libclang_rt.asan-x86_64.so');
  if (!p) throw new Error('clang has no libclang_rt.asan-x86_64.so (install libclang-rt-<N>-dev)');
  return p;
}

/** The addon's sources in binding.gyp and in CMakeLists.txt; throws when they differ. */
function checkSourceLists() {
  // binding.gyp is a Python literal that, as written here, is also a JavaScript one.
  // eslint-disable-next-line no-eval
  const gyp = eval(`(${fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8')})`);
  const fromGyp = gyp.targets.find((t) => t.target_name === 'devmapper').sources;
  const m = /set\(DEVMAPPER_SOURCES\s+([^)]*)\)/.exec(fs.readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8'));
  if (!m) throw new Error('CMakeLists.txt has no set(DEVMAPPER_SOURCES ...)');
  const fromCmake = m[1].split(/\s+/).filter(Boolean);
  const a = [...fromGyp].sort().join(' ');
  const b = [...fromCmake].sort().join(' ');
  if (a !== b)
    throw new Error(`binding.gyp and CMakeLists.txt build different sources:\n  binding.gyp:    ${a}\n  CMakeLists.txt: ${b}`);
  return fromGyp;
}

/** Builds (incrementally) the sanitized addon, the fuzzer and the seed generator. */
function buildSanitized() {
  checkSourceLists();
  ensureToolchain();
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [ROOT] });
  const t0 = Date.now();
  const status = run(process.execPath, [
    cmakeJs, 'build', '--out', BUILD_DIR, '--cc', 'clang', '--cxx', 'clang++', '--prefer-make', '--parallel', '2',
    '--log-level', 'warn',
  ]);
  if (status !== 0) throw new Error(`sanitized build failed (cmake-js exit ${status})`);
  for (const f of [ADDON, FUZZER, SEEDER]) if (!fs.existsSync(f)) throw new Error(`sanitized build did not produce ${f}`);
  const seconds = (Date.now() - t0) / 1000;
  log(`sanitized build up to date in ${seconds.toFixed(1)} s: ${path.relative(ROOT, BUILD_DIR)}/`);
  return seconds;
}

/** Environment for a Node process that loads the sanitized addon. */
function sanitizedNodeEnv(extra = {}) {
  return {
    ...process.env,
    LD_PRELOAD: asanRuntime(),
    DEVMAPPER_ADDON: ADDON,
    // Node itself does not free everything at exit: leak reports would be noise.
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0:halt_on_error=1:print_summary=1:strict_string_checks=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:print_summary=1',
    ...extra,
  };
}

/** The first sanitizer report line in `text`, or null. */
function findReport(text) {
  for (const line of text.split('\n')) if (REPORT_PATTERNS.some((re) => re.test(line))) return line.trim();
  return null;
}

module.exports = {
  ROOT, BUILD_DIR, ADDON, FUZZER, SEEDER, FUZZ_DIR,
  log, run, checkSourceLists, ensureToolchain, buildSanitized, asanRuntime, sanitizedNodeEnv, findReport,
};
