// Following a merge (or rollback) in the kernel: progress on stderr, Ctrl-C stops waiting only.
import type * as Ops from '../ops';
import { SECTOR_SIZE } from '../units';
import { CliError, Exit } from './exit';
import { Progress } from './progress';
import { onInterrupt } from './signals';

type Run = (o: Ops.MergeOptions) => Promise<Ops.MergeResult>;

export async function followMerge(name: string, what: 'merge' | 'rollback', o: { wait?: boolean; quiet?: boolean }, run: Run): Promise<Ops.MergeResult> {
  if (o.wait === false) return run({ wait: false });
  const ac = new AbortController();
  const off = onInterrupt(() => ac.abort());
  const bar = o.quiet ? undefined : new Progress({ label: what });
  let first: bigint | undefined;
  try {
    return await run({
      signal: ac.signal,
      onProgress: (p) => {
        // Work is the COW's data sectors: from what was allocated at the start down to the metadata.
        first ??= p.allocated;
        const total = (first - p.metadata) * SECTOR_SIZE;
        const left = (p.allocated - p.metadata) * SECTOR_SIZE;
        bar?.update({ done: total - left > 0n ? total - left : 0n, total: total > 0n ? total : 0n });
      },
    });
  } catch (err) {
    // Stopped while waiting for another operation's lock: nothing started, the error says so.
    if (!ac.signal.aborted || (err as Error).name === 'DeviceLockedError') throw err;
    bar?.end();
    throw new CliError(
      `stopped waiting; the ${what} goes on in the kernel. Follow and finish it with 'dmctl merge ${what === 'merge' ? name : '<origin>'}', or look with 'dmctl describe'`,
      Exit.INTERRUPTED,
    );
  } finally {
    bar?.end();
    off();
  }
}
