// Run with vite-node in a separate process: `vite-node test/helpers/ops-child.ts <op> <name>`.
// Starts an operation and exits without waiting for it, to prove that state lives in the kernel.
import { describe, merge, rollback } from '../../src/ops';

async function main(): Promise<void> {
  const [op, name] = process.argv.slice(2);
  if (op === 'merge') await merge(name, { wait: false });
  else if (op === 'rollback') await rollback(name, { wait: false });
  const d = await describe(op === 'rollback' ? (await describe(name).catch(() => undefined))?.origin ?? name : name).catch(() => undefined);
  process.stdout.write(`${JSON.stringify({ state: d?.state })}\n`);
}
main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
