// Waiting without spinning: DEV_WAIT where the kernel raises events, a timer where it does not
// (merge progress and COW fill raise none), both cancellable with an AbortSignal.

export function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : Object.assign(new Error('the wait was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

/** Sleeps `ms`, or rejects at once when the signal aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
