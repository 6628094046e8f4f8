// Run with node in a separate process: `node test/helpers/ops-kill-child.cjs '<spec>'`. Runs one
// live operation of the built library (dist/ops) and stops for good at the fault point spec.point,
// after printing `at <point>`: the test then kills it with SIGKILL, as a crash would, with the
// operation's locks and half-done steps as they are at that point.
'use strict';
const path = require('node:path');
const ops = require(path.join(__dirname, '..', '..', 'dist', 'ops'));

const spec = JSON.parse(process.argv[2]);
ops.setFaultHook(async (point) => {
  if (point !== spec.point) return;
  process.stdout.write(`at ${point}\n`);
  await new Promise(() => undefined);
});
const run = {
  divert: (a, o) => ops.divert(a[0], o),
  merge: (a, o) => ops.merge(a[0], o),
  discard: (a, o) => ops.discard(a[0], o),
  snapshot: (a, o) => ops.createSnapshot(a[0], a[1], o),
  'remove-snapshot': (a, o) => ops.removeSnapshot(a[0], o),
  rollback: (a, o) => ops.rollback(a[0], o),
  'grow-cow': (a, o) => ops.growCow(a[0], a[1], o),
  migrate: (a, o) => ops.migrate(a[0], o),
}[spec.op];
run(spec.args, spec.opts ?? {}).then(
  () => process.stdout.write('done\n'),
  (e) => process.stdout.write(`failed ${e.message}\n`),
);
