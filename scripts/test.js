#!/usr/bin/env node
'use strict';
// npm test: unit tests here, the packaging and sanitizer checks (scripts/ship/checks.js), then the
// integration tests against a real device-mapper — on this kernel when it has one, otherwise
// inside the QEMU guest. Never skips silently.
//   DEVMAPPER_RIG_KERNEL  bookworm (default) | trixie | sid: the guest's kernel
//   DEVMAPPER_RIG_UDEV    1 (default: hosts run udev) | 0: whether the guest runs systemd-udevd
//   DEVMAPPER_TEST_MATRIX ci: several kernels and udev modes, two guests side by side (scripts/matrix.js; .ci/run)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { hostHasDeviceMapper } = require('./kernel-check');

const ROOT = path.resolve(__dirname, '..');
const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
// The line a guest run ends with, for scripts/matrix.js to collect.
const RESULT_MARK = '[devmapper-integration]';
const args = process.argv.slice(2);
const integrationOnly = args.includes('--integration-only');
const inGuest = args.includes('--in-guest');
const filters = args.filter((a) => !a.startsWith('--'));
process.env.DEVMAPPER_RIG_UDEV ??= '1';

function vitest(config, extra) {
  return spawnSync(process.execPath, [VITEST, 'run', '--config', config, ...extra], { cwd: ROOT, stdio: 'inherit' }).status;
}

function dmIoctlVersion() {
  try {
    return Object.values(require(path.join(ROOT, 'dist', 'api', 'dm')).versionSync()).join('.');
  } catch {
    return 'unknown';
  }
}

/** Each failed test as "file > name: first line of its error", so a log's last lines say what broke. */
function failedTests(report) {
  const out = [];
  for (const file of report.testResults ?? []) {
    const failedIn = (file.assertionResults ?? []).some((t) => t.status === 'failed');
    if (file.status === 'failed' && !failedIn) out.push(`${path.relative(ROOT, file.name)}: ${String(file.message ?? '').split('\n')[0].slice(0, 300)}`);
    for (const t of file.assertionResults ?? []) {
      if (t.status !== 'failed') continue;
      const why = String(t.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 300);
      out.push(`${path.relative(ROOT, file.name)} > ${t.fullName}: ${why}`);
    }
  }
  return out;
}

/** The tests that passed only on their retry (test/flaky-reporter.ts). */
function flakyTests() {
  try {
    return JSON.parse(fs.readFileSync(process.env.DEVMAPPER_FLAKY_FILE, 'utf8'));
  } catch {
    return [];
  }
}

function summarise(reportFile, where) {
  const r = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  const ran = r.numPassedTests + r.numFailedTests;
  const udev = process.env.DEVMAPPER_RIG_UDEV === '0' ? 'off' : 'on';
  console.log(`\nintegration: ${ran} tests ran against a real device-mapper (${where}, dm ioctl ${dmIoctlVersion()}, udev ${udev}); ${skipped} skipped`);
  console.log(`integration: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  if (skipped > 0) console.log('integration: a skipped integration test proves nothing: failing the run');
  const failures = failedTests(r);
  for (const f of failures) console.log(`integration: FAILED ${f}`);
  const flaky = flakyTests();
  for (const f of flaky) console.log(`integration: FLAKY ${f}`);
  console.log(`${RESULT_MARK} ${JSON.stringify({ release: os.release(), udev, passed: r.numPassedTests, failed: r.numFailedTests, skipped, failures, flaky })}`);
  return r.numFailedTests === 0 && skipped === 0 && ran > 0 && r.success;
}

function runIntegrationHere(where) {
  const report = path.join(os.tmpdir(), `devmapper-integration-${process.pid}.json`);
  process.env.DEVMAPPER_FLAKY_FILE = path.join(os.tmpdir(), `devmapper-flaky-${process.pid}.json`);
  vitest('vitest.integration.config.mts', [
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, '--reporter=./test/flaky-reporter.ts', ...filters,
  ]);
  if (!fs.existsSync(report)) {
    console.error('integration: vitest wrote no report');
    return false;
  }
  return summarise(report, where);
}

function main() {
  if (inGuest) return runIntegrationHere(`Linux ${os.release()} in a QEMU guest`) ? 0 : 1;
  if (process.env.DEVMAPPER_TEST_MATRIX && !integrationOnly) return require('./matrix').runMatrix(process.env.DEVMAPPER_TEST_MATRIX);
  if (!integrationOnly && vitest('vitest.unit.config.mts', []) !== 0) return 1;
  if (!integrationOnly && !filters.length && !require('./ship/checks').shipChecks().ok) return 1;
  const host = hostHasDeviceMapper();
  if (host.ok) return runIntegrationHere(`Linux ${os.release()} on this machine`) ? 0 : 1;
  console.log(`\nintegration: this machine cannot run them directly (${host.why}); using the QEMU guest`);
  const rig = spawnSync(process.execPath, [path.join(__dirname, 'rig', 'run.js'), '--',
    process.execPath, path.join(__dirname, 'test.js'), '--in-guest', ...filters], { cwd: ROOT, stdio: 'inherit' });
  if (rig.status !== 0) console.error('integration: FAILED (in the guest, or the guest could not be started)');
  if (rig.status !== 0 || filters.length) return rig.status === 0 ? 0 : 1;
  // The whole suite also runs the crash test: three boots of a guest, reset twice on purpose.
  const crash = spawnSync(process.execPath, [path.join(__dirname, 'rig', 'crash.js')], { cwd: ROOT, stdio: 'inherit' });
  console.log(`integration: crash test (3 boots, 2 hard resets) ${crash.status === 0 ? 'passed' : 'FAILED'}`);
  return crash.status === 0 ? 0 : 1;
}

module.exports = { RESULT_MARK, vitest, failedTests };

if (require.main === module) {
  const rc = main();
  if (typeof rc === 'number') process.exit(rc);
  rc.then((code) => process.exit(code), (e) => {
    console.error(e.stack || e);
    process.exit(1);
  });
}
