import { fromNative } from '../errors';

/** Runs one addon call (most run on devmapper's threads and return a Promise). Its errno error
 *  becomes a DmError naming the command and path the addon reports (the backing file when opening
 *  it failed), with the stack captured at the user's call. */
export async function callNative<T>(stack: string, command: string, device: string | undefined, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { op?: unknown; target?: unknown };
    throw fromNative(err, typeof e.op === 'string' ? e.op : command, typeof e.target === 'string' ? e.target : device, stack);
  }
}

/** Retries while the kernel answers EBUSY, a bounded number of times. */
export async function retryBusy<T>(tries: number, delayMs: number, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EBUSY' || i >= tries) throw err;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs * i));
    }
  }
}
