'use strict';
// Checks that a prebuild will load on a stock glibc system with any Node that has N-API 8:
// right ELF machine, stripped, and every undefined symbol either an N-API import (resolved from the
// node binary itself, so it carries no version) or versioned from glibc/libstdc++/libgcc. An
// unversioned non-N-API import would bind to whatever symbol of that name the process has.
// Usage: node scripts/ship/elf-check.js prebuilds/linux-x64/x.node prebuilds/linux-arm64/y.node
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const MACHINES = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };
// Libraries a glibc system always has; anything else (or an rpath) would not be found by users.
const LIBS = new Set(['libc.so.6', 'libstdc++.so.6', 'libgcc_s.so.1', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2']);
// Weak references from crtbegin.o for gprof and transactional memory; left null when absent.
const CRT_WEAK = new Set(['__gmon_start__', '_ITM_deregisterTMCloneTable', '_ITM_registerTMCloneTable']);
const VERSION_PREFIX = /^(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9.]+$/;

function readelf(args, file) {
  const r = spawnSync('readelf', ['-W', ...args, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`readelf: ${r.error.message} (install binutils)`);
  if (r.status !== 0) throw new Error(`readelf ${args.join(' ')} ${file}: ${r.stderr.trim()}`);
  return r.stdout;
}

function versionKey(v) {
  return v.replace(/^[A-Z]+_/, '').split('.').map(Number);
}

function maxVersion(versions, prefix) {
  const vs = [...versions].filter((v) => v.startsWith(`${prefix}_`) && /^[0-9.]+$/.test(v.slice(prefix.length + 1)));
  vs.sort((a, b) => {
    const x = versionKey(a);
    const y = versionKey(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  });
  return vs.at(-1);
}

/** Returns { file, arch, machine, needed, stripped, glibc, glibcxx, cxxabi, problems[] }. */
function check(file, arch) {
  const problems = [];
  if (!MACHINES[arch]) throw new Error(`unknown arch ${arch}; expected a file under prebuilds/linux-{${Object.keys(MACHINES)}}/`);
  const machine = /Machine:\s+(.*)/.exec(readelf(['-h'], file))?.[1].trim();
  if (machine !== MACHINES[arch]) problems.push(`machine is ${machine}, expected ${MACHINES[arch]}`);

  const sections = [...readelf(['-S'], file).matchAll(/\]\s+(\.\S+)/g)].map((m) => m[1]);
  const unstripped = sections.filter((s) => s === '.symtab' || s.startsWith('.debug'));
  if (unstripped.length) problems.push(`not stripped: has ${unstripped.join(', ')}`);

  const dyn = readelf(['-d'], file);
  const needed = [...dyn.matchAll(/\(NEEDED\).*\[(.*)\]/g)].map((m) => m[1]);
  for (const lib of needed) if (!LIBS.has(lib)) problems.push(`needs ${lib}, not part of a base glibc system`);
  for (const m of dyn.matchAll(/\((RPATH|RUNPATH)\).*\[(.*)\]/g)) problems.push(`has ${m[1]} ${m[2]}`);

  // Version needs: which library each required version comes from.
  const versions = new Set();
  let lib = null;
  for (const line of readelf(['-V'], file).split('\n')) {
    const f = /File:\s+(\S+)/.exec(line);
    if (f) lib = f[1];
    const n = /Name:\s+(\S+)\s+Flags/.exec(line);
    if (n && lib) {
      versions.add(n[1]);
      if (!VERSION_PREFIX.test(n[1])) problems.push(`needs version ${n[1]} of ${lib}`);
    }
  }

  let exportsModule = false;
  const unversioned = [];
  for (const line of readelf(['--dyn-syms'], file).split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8 || !/^\d+:$/.test(cols[0])) continue;
    const [, , , , bind, , ndx, name] = cols;
    if (ndx !== 'UND') {
      if (name === 'napi_register_module_v1') exportsModule = true;
      continue;
    }
    if (!name) continue; // the null symbol
    const [sym, ver] = name.split(/@+/);
    if (ver) {
      if (!VERSION_PREFIX.test(ver)) problems.push(`imports ${sym} with version ${ver}`);
    } else if (!/^(napi_|node_api_)/.test(sym) && !(bind === 'WEAK' && CRT_WEAK.has(sym))) {
      unversioned.push(sym);
    }
  }
  if (unversioned.length) problems.push(`unversioned imports that are not N-API: ${unversioned.join(' ')}`);
  if (!exportsModule) problems.push('does not export napi_register_module_v1 (not an N-API module?)');

  return {
    file, arch, machine, needed, stripped: unstripped.length === 0,
    glibc: maxVersion(versions, 'GLIBC'),
    glibcxx: maxVersion(versions, 'GLIBCXX'),
    cxxabi: maxVersion(versions, 'CXXABI'),
    problems,
  };
}

/** arch from the prebuilds/<platform>-<arch>/ directory the file sits in. */
function archOf(file) {
  return /^linux-(.+)$/.exec(path.basename(path.dirname(file)))?.[1];
}

module.exports = { check, archOf };

if (require.main === module) {
  const files = process.argv.slice(2);
  if (!files.length) {
    console.error('usage: elf-check.js prebuilds/linux-<arch>/<name>.node ...');
    process.exit(2);
  }
  let failed = false;
  for (const file of files) {
    try {
      const r = check(file, archOf(file));
      console.log(`${r.problems.length ? 'FAIL' : 'ok  '} ${file}: ${r.machine}, ${r.stripped ? '' : 'not '}stripped, needs ${r.needed.join(' ')}; ` +
        `highest ${r.glibc}, ${r.glibcxx}, ${r.cxxabi}`);
      for (const p of r.problems) console.log(`     ${p}`);
      failed ||= r.problems.length > 0;
    } catch (e) {
      console.log(`FAIL ${file}: ${e.message}`);
      failed = true;
    }
  }
  process.exit(failed ? 1 : 0);
}
