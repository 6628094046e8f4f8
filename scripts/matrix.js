'use strict';
// DEVMAPPER_TEST_MATRIX=ci (what .ci/run sets): the unit tests once, then the integration tests
// in the QEMU guest on each kernel and udev mode below, one guest at a time, and one line per run.
const path = require('node:path');
const { spawn } = require('node:child_process');

// One test file per thing the subset must prove on every kernel; a path prefix picks several.
const SUBSET = [
  'test/integration/dm-ioctl.test.ts', // every ioctl
  'test/integration/table-load.test.ts', // features a kernel lacks, refused by version
  'test/integration/ops-replace.test.ts', // replace
  'test/integration/ops-divert.test.ts', // divert, merge, discard
  'test/integration/ops-snapshots.test.ts', // point-in-time snapshots
  'test/integration/ops-cow.test.ts', // COW monitoring
  'test/integration/udev', // udev*.test.ts
];

// The budget: all of .ci/run under 50 min on this 2-core machine (TCG). The whole suite on
// bookworm takes about 10 min on a quiet machine, and will grow by 2-4 min with the tests being
// added; two whole runs (udev on and off) are then 24-28 min, on top of npm install, the build
// (~1.5 min) and the unit tests (~1.2 min). Measured 2026-12-02 with other guests running
// beside (load 4-8): this subset took 8.7 min on sid (11.5 min at load 8), dm-ioctl alone 32 s
// (load 4) to 111 s (load 8). Two more whole runs would take the total past 50 min; two subset
// runs keep it near 40. So trixie and sid run the subset, bookworm the whole suite twice.
const MATRICES = {
  ci: [
    { kernel: 'bookworm', udev: '1', files: [] },
    { kernel: 'bookworm', udev: '0', files: [] },
    { kernel: 'trixie', udev: '1', files: SUBSET },
    { kernel: 'sid', udev: '1', files: SUBSET },
  ],
};

function minutes(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Runs one guest; resolves with the guest's result line (undefined if none came) and its exit code. */
function guestRun(run, mark) {
  return new Promise((resolve) => {
    const env = { ...process.env, DEVMAPPER_RIG_KERNEL: run.kernel, DEVMAPPER_RIG_UDEV: run.udev };
    const child = spawn(process.execPath, [path.join(__dirname, 'rig', 'run.js'), '--',
      process.execPath, path.join(__dirname, 'test.js'), '--in-guest', ...run.files], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let result;
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      const lines = (tail + d.toString('utf8')).split('\n');
      tail = lines.pop();
      for (const l of lines) if (l.startsWith(mark)) result = JSON.parse(l.slice(mark.length));
    });
    child.on('exit', (code) => resolve({ result, code }));
  });
}

async function runMatrix(name) {
  const { RESULT_MARK, vitest } = require('./test');
  const runs = MATRICES[name];
  if (!runs) throw new Error(`DEVMAPPER_TEST_MATRIX=${name}: expected one of ${Object.keys(MATRICES).join(', ')}`);
  const t0 = Date.now();
  if (vitest('vitest.unit.config.mts', []) !== 0) return 1;
  const unitTime = Date.now() - t0;
  const lines = [];
  let passed = 0;
  let failed = 0;
  let ok = true;
  for (const run of runs) {
    const start = Date.now();
    const { result: r, code } = await guestRun(run, RESULT_MARK);
    const what = `${run.kernel} ${r?.release ?? '(no result)'}, udev ${run.udev === '0' ? 'off' : 'on'}, ${run.files.length ? 'subset' : 'full'}`;
    if (!r || code !== 0 || r.failed > 0 || r.skipped > 0) ok = false;
    passed += r?.passed ?? 0;
    failed += r?.failed ?? 0;
    lines.push(r
      ? `matrix: ${what}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${minutes(Date.now() - start)})`
      : `matrix: ${what}: the guest gave no result, exit ${code} (${minutes(Date.now() - start)})`);
  }
  console.log(`\nmatrix: unit tests (${minutes(unitTime)}); integration runs:`);
  for (const l of lines) console.log(l);
  console.log(`matrix: all runs took ${minutes(Date.now() - t0)}${ok ? '' : '; FAILED: every run must pass with nothing skipped'}`);
  console.log(`integration: ${passed} passed, ${failed} failed`);
  return ok ? 0 : 1;
}

module.exports = { SUBSET, MATRICES, runMatrix };
