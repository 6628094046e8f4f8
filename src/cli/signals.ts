// Ctrl-C while a verb waits: the first press runs the verb's handler (stop waiting, say what goes
// on), a second one exits at once.
import { Exit } from './exit';

export function onInterrupt(handler: () => void): () => void {
  let pressed = 0;
  const listener = (): void => {
    if (++pressed > 1) process.exit(Exit.INTERRUPTED);
    handler();
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/** Runs a live operation of a few milliseconds to its end: the first Ctrl-C stops a wait for
 *  another operation's lock (nothing has changed yet), and otherwise only says that the operation
 *  completes or rolls back by itself; killing it half-way could leave a device suspended. */
export async function guarded<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const off = onInterrupt(() => {
    ac.abort();
    process.stderr.write(`dmctl: stopping a wait for a lock; a ${what} under way finishes or rolls back (Ctrl-C again to kill it half-way)\n`);
  });
  try {
    return await fn(ac.signal);
  } finally {
    off();
  }
}
