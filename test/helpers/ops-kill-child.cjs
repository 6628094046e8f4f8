// Run with node in a separate process: `node test/helpers/ops-kill-child.cjs '<spec>'`. Runs one
// live operation of the built library (dist/ops) and stops for good at the fault point spec.point,
// after printing `at <point>`: the test then kills it with SIGKILL, as a crash would, with the
// operation's locks and half-done steps as they are at that point.
'use strict';
const { ops, runs } = require('./ops-runs.cjs');

const spec = JSON.parse(process.argv[2]);
ops.setFaultHook(async (point) => {
  if (point !== spec.point) return;
  process.stdout.write(`at ${point}\n`);
  await new Promise(() => undefined);
});
const run = runs[spec.op];
run(spec.args, spec.opts ?? {}).then(
  () => process.stdout.write('done\n'),
  (e) => process.stdout.write(`failed ${e.message}\n`),
);
