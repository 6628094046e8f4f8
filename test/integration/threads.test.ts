// Calls that block in the kernel run on devmapper's own threads: neither the JS thread nor
// libuv's shared pool waits behind a suspend or a BLKFLSBUF held by slow I/O, and any number of
// event waits share one thread. Slow I/O: a linear device over a delay device (writes delayed);
// suspending the upper device waits for its writes queued in the lower one (a delay device's own
// suspend would release them at once).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { flushBuffers } from '../../src/loop';
import { native } from '../../src/native';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';

const MiB = 1024 * 1024;
const SECTORS = 8192n;
const DELAY_MS = 3000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const cleanups: (() => unknown)[] = [];
// Close files and let the held writers end first; then devices are checked gone, loops detached.
const devs = useTestDevices({
  beforeCleanup: async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  },
});

async function device(name: string, targets: dm.TargetInput[]): Promise<string> {
  await dm.create(name);
  await dm.loadRawTable(name, targets);
  await dm.resume(name);
  return name;
}

/** An upper linear device over a lower one whose writes take DELAY_MS. */
async function slowStack(tag: string): Promise<{ upper: string; lower: string }> {
  const l = await devs.loop(4 * MiB);
  const lower = await device(testName(`${tag}-slow`), [
    { start: 0n, length: SECTORS, type: 'delay', params: `${l.major}:${l.minor} 0 0 ${l.major}:${l.minor} 0 ${DELAY_MS}` },
  ]);
  const { major, minor } = dm.infoSync(lower);
  const upper = await device(testName(tag), [{ start: 0n, length: SECTORS, type: 'linear', params: `${major}:${minor} 0` }]);
  return { upper, lower };
}

/** Writes one block straight to the device (O_DIRECT) from another process; resolves once the
 *  write is queued in the delay device. */
async function writeInFlight(upper: string, lower: string): Promise<void> {
  const dd = spawn('dd', ['if=/dev/zero', `of=${dm.nodePath(upper)}`, 'bs=4096', 'count=1', 'oflag=direct'], { stdio: 'ignore' });
  cleanups.push(() => new Promise((r) => (dd.exitCode === null ? dd.once('exit', r) : r(null))));
  for (let i = 0; i < 200; i++) {
    const [line] = await dm.status(lower);
    if (Number(line!.params.split(' ')[1]) > 0) return;
    await sleep(10);
  }
  throw new Error(`the write to ${upper} never reached the delay device`);
}

describe("devmapper's threads", () => {
  it("suspends held by slow I/O leave libuv's pool and the JS thread free", async () => {
    // One more held suspend than libuv's default pool has threads.
    const stacks = await Promise.all([1, 2, 3, 4, 5].map((i) => slowStack(`held${i}`)));
    await Promise.all(stacks.map((s) => writeInFlight(s.upper, s.lower)));
    const settled: string[] = [];
    const suspends = stacks.map((s) => dm.suspend(s.upper).then(() => settled.push(s.upper)));
    cleanups.push(() => Promise.allSettled(suspends).then(() => Promise.all(stacks.map((s) => dm.resume(s.upper)))));
    await sleep(200);
    expect(settled).toEqual([]);
    expect(native.threadStats().poolBusy).toBeGreaterThanOrEqual(5);
    // Pool work (a file read) and timers both run while all five suspends are still held.
    await fs.promises.readFile('/proc/self/status');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await sleep(100);
    clearInterval(timer);
    expect(settled).toEqual([]);
    expect(ticks).toBeGreaterThan(0);
    await Promise.all(suspends);
    for (const s of stacks) expect(dm.infoSync(s.upper).flags.suspended).toBe(true);
  }, 120_000);

  it('BLKFLSBUF behind slow writeback leaves the JS thread free', async () => {
    const { upper } = await slowStack('flush');
    const fd = fs.openSync(dm.nodePath(upper), 'r+');
    cleanups.push(() => fs.closeSync(fd));
    fs.writeSync(fd, Buffer.alloc(64 * 1024, 0x5a), 0, 64 * 1024, 0); // dirty pages, no writeback yet
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    cleanups.push(() => clearInterval(timer));
    let flushed = false;
    const flush = flushBuffers(dm.nodePath(upper)).then(() => (flushed = true));
    await sleep(300);
    expect(flushed).toBe(false);
    expect(ticks).toBeGreaterThan(0);
    await flush;
    const back = Buffer.alloc(4096);
    fs.readSync(fd, back, 0, 4096, 0);
    expect(back.every((b) => b === 0x5a)).toBe(true);
  }, 120_000);

  it('1,000 waits share one thread, and all end when their device goes', async () => {
    const name = await device(testName('waits'), [{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
    const threads = (): number => fs.readdirSync('/proc/self/task').length;
    const before = threads();
    const waits = Array.from({ length: 1000 }, () =>
      dm.waitEvent(name).then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      ),
    );
    for (let i = 0; i < 500 && native.threadStats().waits < 1000; i++) await sleep(10);
    expect(native.threadStats()).toMatchObject({ waiterThreads: 1, waits: 1000 });
    // The waiter thread itself at most (it is made on the first wait of the process).
    expect(threads() - before).toBeLessThanOrEqual(1);
    await dm.remove(name);
    expect(new Set(await Promise.all(waits))).toEqual(new Set(['ENXIO']));
    expect(native.threadStats().waits).toBe(0);
  }, 120_000);
});
