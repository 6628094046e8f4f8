'use strict';
// The packaging and native-code checks npm test runs on the host beside the unit tests: the API
// reference, the install of the packed tarball on a PATH without a compiler, and the unit tests
// against the ASan/UBSan build plus a minute of the reply decoder's fuzzer.
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const CHECKS = [
  { what: 'API reference (TypeDoc, every export documented, no warnings)', args: [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc')] },
  { what: 'install from the packed tarball (prebuilds, no compiler)', args: [path.join(__dirname, 'pack-test.js')] },
  { what: 'sanitized unit tests and 60 s of fuzzing', args: [path.join(__dirname, 'sanitize.js'), '--unit', '--fuzz', '60'] },
];

/** Runs every check (all of them, also after a failure); returns one line per check and whether all passed. */
function shipChecks() {
  const lines = [];
  let ok = true;
  for (const c of CHECKS) {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, c.args, { cwd: ROOT, stdio: 'inherit' });
    const s = Math.round((Date.now() - t0) / 1000);
    if (r.status !== 0) ok = false;
    lines.push(`ship: ${c.what}: ${r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`} (${s} s)`);
  }
  for (const l of lines) console.log(l);
  return { ok, lines };
}

module.exports = { shipChecks };
