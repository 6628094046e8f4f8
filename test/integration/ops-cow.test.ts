// COW fill: warnings at thresholds (from status reads and DEV_WAIT, no busy loop), growth of a
// file-backed COW that keeps a diverted device writable past its initial size, and a store that
// fills up being reported invalid. (Memory over many polls: ops-cow-memory.test.ts; growth by
// hand: dmctl grow-cow in cli-monitor.test.ts.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import type { CowEvent } from '../../src/ops';
import { sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { MiB, deviceSum, sleep, writeMiB } from '../helpers/ops';

const loops: TestLoop[] = [];
beforeAll(async () => {
  await sweep(testName(''));
});
afterEach(async () => {
  expect(await sweep(testName(''))).toEqual([]);
  while (loops.length) await loops.pop()!.cleanup();
});
afterAll(removeTestDir);

async function plain(tag: string, mib: number): Promise<string> {
  const l = await makeLoop(mib * MiB);
  loops.push(l);
  const name = testName(tag);
  await dm.create(name);
  await dm.loadRawTable(name, [{ start: 0, length: mib * 2048, type: 'linear', params: `${l.path} 0` }]);
  await dm.resume(name);
  return name;
}

describe('COW fill', () => {
  it('warnings fire at thresholds, and a growing file-backed COW keeps V writable past its initial size', async () => {
    const v = await plain('v', 32);
    const cow = path.join(testDir(), 'grow.cow');
    await ops.divert(v, { cow: { file: cow, size: '4M' } });
    const w = ops.watchCow(v, { thresholds: [25, 50], grow: { at: 50, by: '8M', max: '64M' }, intervalMs: 50 });
    const events: CowEvent[] = [];
    const collected = (async () => {
      for await (const e of w) events.push(e);
    })();
    const ok = await writeMiB(dm.nodePath(v), 16);
    expect(ok).toBe(true);
    const sum = deviceSum(dm.nodePath(v));
    w.stop();
    await w.done;
    await collected;
    const types = events.map((e) => e.type);
    expect(types).toContain('fill');
    expect(events.filter((e) => e.type === 'warning').map((e) => (e as { threshold: number }).threshold)).toEqual(expect.arrayContaining([25, 50]));
    expect(types).toContain('grown');
    expect(types.at(-1)).toBe('end');
    const d = await ops.describe(v);
    expect(d.cow!.status.state).toBe('active');
    expect(fs.statSync(cow).size).toBeGreaterThan(16 * MiB);
    // Everything written is there, and merges back.
    await ops.merge(v);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
  });

  it('watching costs next to no CPU (one armed DEV_WAIT and a timer), and an AbortSignal ends it', async () => {
    const v = await plain('v', 16);
    await ops.divert(v, { cow: { file: path.join(testDir(), 'idle.cow'), size: '2M' } });
    const ac = new AbortController();
    const w = ops.watchCow(v, { signal: ac.signal });
    await sleep(300);
    const cpu0 = process.cpuUsage();
    await sleep(2000);
    const cpu = process.cpuUsage(cpu0);
    ac.abort();
    await w.done;
    // A busy loop would burn ~2 s of CPU here; the watcher reads a status a few times a second.
    // Half of that is the bound: the worker's own GC and compiler threads count too, and under
    // software emulation on a loaded host they alone have taken 400 ms.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(1000);
    await ops.discard(v);
  });

  it('without growth, a full P store is reported invalid (the kernel event wakes the watcher)', async () => {
    const v = await plain('v', 16);
    await ops.divert(v, { cow: { file: path.join(testDir(), 'full.cow'), size: '1M' } });
    const seen: string[] = [];
    const w = ops.watchCow(v, { thresholds: [50], intervalMs: 5000 });
    w.on('warning', () => seen.push('warning'));
    w.on('invalid', () => seen.push('invalid'));
    const ok = await writeMiB(dm.nodePath(v), 4, 0);
    expect(ok).toBe(false);
    await w.done;
    expect(seen).toContain('invalid');
    expect((await ops.describe(v)).cow!.status.state).toBe('invalid');
    await ops.discard(v, { force: true });
    expect((await ops.describe(v)).state).toBe('plain');
  });
});
