#!/usr/bin/env node
'use strict';
// The unit test suite against the ASan+UBSan build of the addon (build-sanitize/).
//
//   node scripts/ship/sanitized-unit.js [--no-build] [vitest filters...]
//
// Fails (non-zero exit) when a test fails, when the run dies, or when a sanitizer report shows
// up in its output even if the exit code hides it.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const tc = require('./toolchain');

/** Runs the suite; resolves to { ok, passed, failed, total, report, seconds }. */
async function runSanitizedUnit({ build = true, filters = [] } = {}) {
  if (build) tc.buildSanitized();
  if (!fs.readFileSync(tc.ADDON).includes('__asan_report_load'))
    throw new Error(`${tc.ADDON} is not built with AddressSanitizer`);
  const results = path.join(tc.BUILD_DIR, 'unit-results.json');
  fs.rmSync(results, { force: true });
  const vitest = require.resolve('vitest/vitest.mjs', { paths: [tc.ROOT] });
  const args = [
    vitest, 'run', '--config', path.join(__dirname, 'vitest.sanitize.config.mts'),
    '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...filters,
  ];
  tc.log(`unit tests against ${path.relative(tc.ROOT, tc.ADDON)} (LD_PRELOAD=${path.basename(tc.asanRuntime())})`);
  const t0 = Date.now();
  let report = null;
  const status = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: tc.ROOT, env: tc.sanitizedNodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    // Pass output through, and keep a tail of each stream to scan line by line.
    for (const [stream, sink] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      let pending = '';
      stream.on('data', (chunk) => {
        sink.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop();
        if (!report) report = tc.findReport(lines.join('\n'));
      });
      stream.on('end', () => {
        if (!report && pending) report = tc.findReport(pending);
      });
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const seconds = (Date.now() - t0) / 1000;
  let passed = 0, failed = 0, total = 0;
  try {
    const j = JSON.parse(fs.readFileSync(results, 'utf8'));
    passed = j.numPassedTests;
    failed = j.numFailedTests;
    total = j.numTotalTests;
  } catch {
    // No results file: the run died before the reporter wrote it; status and report say why.
  }
  const ok = status === 0 && !report && failed === 0 && total > 0 && passed > 0;
  return { ok, status, passed, failed, total, report, seconds };
}

function describe(r) {
  const parts = [`${r.passed}/${r.total} tests passed`, `${r.failed} failed`, `exit ${r.status}`, `${r.seconds.toFixed(1)} s`];
  if (r.report) parts.push(`sanitizer report: ${r.report}`);
  return parts.join(', ');
}

module.exports = { runSanitizedUnit, describe };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const build = !argv.includes('--no-build');
  runSanitizedUnit({ build, filters: argv.filter((a) => a !== '--no-build') }).then(
    (r) => {
      tc.log(`sanitized unit tests: ${r.ok ? 'OK' : 'FAILED'}: ${describe(r)}`);
      process.exit(r.ok ? 0 : 1);
    },
    (e) => {
      tc.log(`sanitized unit tests: ERROR: ${e.message}`);
      process.exit(2);
    },
  );
}
