#!/usr/bin/env node
'use strict';
// The sanitizer and fuzzing gate, one command for CI:
//
//   node scripts/ship/sanitize.js --unit --fuzz 60
//
//   --build        build only (clang ASan+UBSan addon, fuzzer, seed generator in build-sanitize/)
//   --unit         the unit suite against the sanitized addon (sanitized-unit.js)
//   --fuzz [N]     the reply-decoder fuzzer for N seconds (default 60; fuzz.js)
//   (no option)    same as --unit --fuzz 60
//
// Installs the toolchain with apt-get on first use, builds incrementally, and exits non-zero on
// any test failure, sanitizer report or fuzzer finding, after a summary of what ran.
const tc = require('./toolchain');
const unit = require('./sanitized-unit');
const fuzz = require('./fuzz');

function parse(argv) {
  const o = { build: false, unit: false, fuzz: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--build') o.build = true;
    else if (a === '--unit') o.unit = true;
    else if (a === '--fuzz') {
      o.fuzz = 60;
      if (/^\d+$/.test(argv[i + 1] ?? '')) o.fuzz = Number(argv[++i]);
    } else if (/^--fuzz=\d+$/.test(a)) o.fuzz = Number(a.slice(7));
    else throw new Error(`unknown option ${a}\nusage: node scripts/ship/sanitize.js [--build] [--unit] [--fuzz [seconds]]`);
  }
  if (!o.build && !o.unit && o.fuzz === null) Object.assign(o, { unit: true, fuzz: 60 });
  return o;
}

async function main() {
  const o = parse(process.argv.slice(2));
  const t0 = Date.now();
  const lines = [];
  let ok = true;
  const buildSeconds = tc.buildSanitized();
  lines.push(`build:  ${require('node:path').relative(tc.ROOT, tc.BUILD_DIR)}/ (addon, dm_codec_fuzz, dm_codec_seeds), ${buildSeconds.toFixed(1)} s`);
  if (o.unit) {
    const r = await unit.runSanitizedUnit({ build: false });
    ok = ok && r.ok;
    lines.push(`unit:   ${r.ok ? 'OK' : 'FAILED'}: ${unit.describe(r)}`);
  }
  let fz = null;
  if (o.fuzz !== null) {
    fz = await fuzz.runFuzz({ seconds: o.fuzz, build: false });
    ok = ok && fz.ok;
    lines.push(`fuzz:   ${fz.ok ? 'OK' : 'FAILED'}: ${fuzz.describe(fz)}`);
  }
  lines.push(`total:  ${ok ? 'OK' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.stderr.write(`\n[sanitize] summary\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  if (fz) fuzz.printFindings(fz);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    tc.log(`ERROR: ${e.message}`);
    process.exit(2);
  },
);
