// Run with node in a separate process: `node test/helpers/ops-locked-child.cjs '<spec>'`, or
// without the argument to get the spec as the first line of stdin (a test starts the process
// ahead, while it sets up, since loading node and the library takes seconds in a slow guest). Runs
// one live operation of the built library (dist/ops, dist/backup), pausing at its first fault
// point (its locks are held by then) until the file spec.release exists, after printing `holding
// <point>`: a test starts a second process, sees it wait for the lock or be refused, and only then
// lets this one go on. With spec.hold 'copy' (backup) it pauses instead once the copy has begun
// (the snapshot made, its lock held). Prints one JSON line: { pid, ok, result | error }.
'use strict';
const fs = require('node:fs');
const { ops, runs: plain } = require('./ops-runs.cjs');

let spec;
let paused = false;
ops.setFaultHook(async (point) => {
  if (paused || spec.hold === 'copy') return;
  paused = true;
  process.stdout.write(`holding ${point}\n`);
  for (const end = Date.now() + 120_000; !fs.existsSync(spec.release) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
});

/** A backup's progress callback that, at the first block copied, blocks this process (the
 *  callback cannot await) until the release file exists: the copy stands still, its locks held. */
function holdInCopy() {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return (p) => {
    if (paused || p.phase !== 'copy' || p.done === 0n) return;
    paused = true;
    process.stdout.write(`holding copy at ${p.done}\n`);
    for (const end = Date.now() + 120_000; !fs.existsSync(spec.release) && Date.now() < end; ) Atomics.wait(cell, 0, 0, 20);
  };
}

const runs = {
  ...plain,
  backup: (a, o) => plain.backup(a, spec.hold === 'copy' ? { ...o, onProgress: holdInCopy() } : o),
};

const bigints = (_k, v) => (typeof v === 'bigint' ? v.toString() : v);
function start(line) {
  spec = JSON.parse(line);
  runs[spec.op](spec.args, spec.opts ?? {}).then(
    (result) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ok: true, result }, bigints)}\n`),
    (e) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ok: false, error: { name: e.name, code: e.code, message: e.message } })}\n`),
  );
}

if (process.argv[2]) start(process.argv[2]);
else {
  let input = '';
  process.stdin.setEncoding('utf8');
  const onData = (d) => {
    input += d;
    const nl = input.indexOf('\n');
    if (nl < 0) return;
    process.stdin.off('data', onData);
    process.stdin.destroy();
    start(input.slice(0, nl));
  };
  process.stdin.on('data', onData);
  // The test went away without giving a spec: nothing to do.
  process.stdin.on('end', () => spec === undefined && process.exit(0));
}
