// devmapper's own threads on the host (no device-mapper needed: calls fail in the kernel or at
// open, on a pool thread, as a held call would complete): the pool stays bounded under many
// concurrent calls, every call settles with the error its sync twin gives, and calls still in
// flight when their worker thread (its N-API env) goes away are dropped without a crash.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DmCmd, native } from '../../src/native';

const POOL_MAX = 16;
const tasks = (): number => fs.readdirSync('/proc/self/task').length;

function syncErrno(): number | undefined {
  try {
    native.dmIoctl(DmCmd.DEV_STATUS, { name: 'devmapper-unit-threads-none' });
    return undefined;
  } catch (e) {
    return (e as { errno?: number }).errno;
  }
}

describe("devmapper's thread pool", () => {
  it('500 concurrent calls use at most 16 threads and each settles as the sync call does', async () => {
    const expected = syncErrno();
    expect(expected).toBeGreaterThan(0);
    const before = tasks();
    const calls = Array.from({ length: 500 }, () =>
      native.dmIoctlAsync(DmCmd.DEV_STATUS, { name: 'devmapper-unit-threads-none' }).then(
        () => 'resolved',
        (e: { errno?: number }) => e.errno,
      ),
    );
    expect(native.threadStats().poolThreads).toBeLessThanOrEqual(POOL_MAX);
    const settled = await Promise.all(calls);
    expect(new Set(settled)).toEqual(new Set([expected]));
    expect(native.threadStats()).toMatchObject({ poolBusy: 0, poolQueued: 0 });
    expect(native.threadStats().poolThreads).toBeLessThanOrEqual(POOL_MAX);
    expect(tasks() - before).toBeLessThanOrEqual(POOL_MAX);
  });

  it('calls in flight when their worker thread exits are dropped, and the pool keeps serving', async () => {
    const addon = path.resolve(__dirname, '..', '..', 'dist', 'native.js');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const { native, DmCmd } = require(${JSON.stringify(addon)});
      for (let i = 0; i < 200; i++) native.dmIoctlAsync(DmCmd.DEV_STATUS, { name: 'w' + i }).catch(() => {});
      parentPort.postMessage('started');`;
    for (let round = 0; round < 20; round++) {
      const w = new Worker(code, { eval: true });
      await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      await w.terminate();
    }
    const expected = syncErrno();
    await expect(native.dmIoctlAsync(DmCmd.DEV_STATUS, { name: 'after' })).rejects.toMatchObject({ errno: expected });
    expect(native.threadStats().poolThreads).toBeLessThanOrEqual(POOL_MAX);
  });
});
