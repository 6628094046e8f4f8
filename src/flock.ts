// Waiting for an flock another process holds, shared by devmapper's device locks (ops/lock.ts)
// and LVM2's VG lock (lvm/lock.ts): flock(LOCK_NB) polled with a backoff, since a blocking flock
// would hold a thread and could not be bounded or interrupted.
import os from 'node:os';
import { native } from './native';

/** flock(fd, LOCK_NB): true when taken, false while another holder keeps it; other errors throw. */
export function tryFlock(fd: number, file: string, exclusive = true): boolean {
  const err = native.flockTry(fd, exclusive);
  if (err === 0) return true;
  if (err === os.constants.errno.EWOULDBLOCK || err === os.constants.errno.EAGAIN) return false;
  throw Object.assign(new Error(`flock ${file} failed (errno ${err})`), { errno: err });
}

/**
 * Calls `attempt` until it returns true (it holds the lock), waiting 5 ms, then twice as long each
 * time up to 200 ms, between tries. False once `deadline` (ms since the epoch) has passed or
 * `signal` aborted, without a last wait.
 */
export async function retryLock(attempt: () => boolean, deadline: number, signal?: AbortSignal): Promise<boolean> {
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    if (attempt()) return true;
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return false;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(delay, left));
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
