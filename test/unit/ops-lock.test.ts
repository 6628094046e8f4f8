// The lock files with the host kernel's own flock: another process (flock(1)) holding a device's
// lock, and two operations of this process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceLockedError, checkLockOptions, heldLock, lockFile, withLocks } from '../../src/ops/lock';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmlock-'));
  process.env.DEVMAPPER_LOCK_DIR = path.join(dir, 'locks');
});
afterAll(() => {
  delete process.env.DEVMAPPER_LOCK_DIR;
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('device locks', () => {
  it('a lock another process holds: the wait is bounded and the error names the holder', async () => {
    await withLocks('merge', ['vol'], { lockTimeoutMs: 0 }, async () => undefined); // makes the directory and file
    const file = lockFile('vol');
    const holder = spawn('flock', ['-x', file, 'sleep', '30'], { stdio: 'ignore' });
    try {
      // Until flock(1) holds it, a try succeeds.
      for (let i = 0; i < 500 && (await withLocks('probe', ['vol'], { lockTimeoutMs: 0 }, async () => true).catch(() => false)); i++) await sleep(10);
      fs.writeFileSync(file, JSON.stringify({ pid: holder.pid, operation: 'divert', devices: ['vol'], since: '2026-01-01T00:00:00.000Z' }));
      const t0 = Date.now();
      const err = await withLocks('merge', ['vol'], { lockTimeoutMs: 250 }, async () => 'ran').catch((e) => e);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(err).toBeInstanceOf(DeviceLockedError);
      expect(err.code).toBe('EBUSY');
      expect(err.message).toBe(`vol is locked by divert of process ${holder.pid} (since 2026-01-01T00:00:00.000Z); merge gave up after ${err.waitedMs} ms; nothing was changed`);
      expect(err.interrupted).toBe(false);
      expect(await withLocks('merge', ['other'], { lockTimeoutMs: 0 }, async () => 'ran')).toBe('ran');
      // A signal (the CLI's Ctrl-C) stops a long wait at once, and fn never runs.
      const ac = new AbortController();
      const t1 = Date.now();
      setTimeout(() => ac.abort(), 100);
      let ran = false;
      const stopped = await withLocks('merge', ['vol'], { lockTimeoutMs: 60_000, signal: ac.signal }, async () => void (ran = true)).catch((e) => e);
      expect(Date.now() - t1).toBeLessThan(30_000);
      expect(stopped).toBeInstanceOf(DeviceLockedError);
      expect(stopped.interrupted).toBe(true);
      expect(stopped.message).toMatch(/; merge stopped waiting when interrupted after \d+ ms; nothing was changed$/);
      expect(ran).toBe(false);
    } finally {
      holder.kill();
    }
  });

  it('several locks in sorted order; nested calls reuse them; the next holder sees what the last one did', async () => {
    const seen: string[] = [];
    await withLocks('snapshot', ['b', 'a'], { lockTimeoutMs: 0 }, async () => {
      expect(JSON.parse(fs.readFileSync(lockFile('a'), 'utf8'))).toMatchObject({ pid: process.pid, operation: 'snapshot', devices: ['a', 'b'] });
      await withLocks('finish-merge', ['a'], { lockTimeoutMs: 0 }, async () => void seen.push('nested'));
      heldLock('a')!.setOutcome('merged');
    });
    expect(seen).toEqual(['nested']);
    const previous = await withLocks('merge', ['a'], { lockTimeoutMs: 0 }, async () => heldLock('a')!.previous);
    expect(previous).toMatchObject({ operation: 'snapshot', outcome: 'merged', released: expect.any(String) });
    expect(Date.parse(previous!.released!)).not.toBeNaN();
    expect(heldLock('a')).toBeUndefined();
  });

  it('two operations of one process on one device run one after the other', async () => {
    const log: string[] = [];
    const op = (n: string) => withLocks(n, ['x'], { lockTimeoutMs: 2000 }, async () => {
      log.push(`${n} in`);
      await sleep(100);
      log.push(`${n} out`);
    });
    await Promise.all([op('one'), sleep(10).then(() => op('two'))]);
    expect(log).toEqual(['one in', 'one out', 'two in', 'two out']);
  });

  it('names that are not file names are escaped; bad timeouts are refused', () => {
    expect(path.basename(lockFile('a b%c'))).toBe('a%20b%25c.lock');
    expect(checkLockOptions(undefined)).toBe(10_000);
    expect(checkLockOptions({ lockTimeoutMs: 5 })).toBe(5);
    expect(() => checkLockOptions({ lockTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => checkLockOptions({ lockTimeoutMs: '1' as unknown as number })).toThrow(TypeError);
    expect(() => checkLockOptions({ signal: {} as AbortSignal })).toThrow(TypeError);
  });
});
