// replace() and multi-device transactions against the real kernel: load before suspend, stack
// order, freeze window, and a rollback to exactly the previous state on every failure.
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { OperationError, replace, setFaultHook, transaction, kernelRefusal } from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { resumeHeld, suspendHeld } from '../../src/ops/stack';
import { MiB, Writer, condition, countRecords, deviceSum, fillPattern, fsck, mkfs, mount, umount } from '../helpers/ops';
import fs from 'node:fs';
import path from 'node:path';

const { loop, mounts } = useTestDevices({
  beforeCleanup: () => {
    setFaultHook();
  },
});

const lin = (dev: string, sectors: number, offset = 0, start = 0): dm.TargetInput => ({ start, length: sectors, type: 'linear', params: `${dev} ${offset}` });
async function device(tag: string, targets: dm.TargetInput[]): Promise<string> {
  const name = testName(tag);
  await dm.create(name);
  await dm.loadRawTable(name, targets);
  await dm.resume(name);
  return name;
}

describe('replace', () => {
  it('swaps a mounted ext4 device onto a two-segment table while a writer fsyncs, and reports the freeze window', async () => {
    const l = await loop(64 * MiB);
    const sectors = (64 * MiB) / 512;
    const v = await device('v', [lin(l.path, sectors)]);
    mkfs(dm.nodePath(v));
    const mnt = mount(dm.nodePath(v));
    mounts.push(mnt);
    const w = new Writer(path.join(mnt, 'log'));
    await w.advance(20);
    const half = sectors / 2;
    const t0 = performance.now();
    const r = await replace(v, [lin(l.path, half), lin(l.path, half, half, half)]);
    const took = performance.now() - t0;
    // The window (milliseconds, not ns or µs) lies inside the call.
    expect(r.freezeMs).toBeGreaterThan(0);
    expect(r.freezeMs).toBeLessThanOrEqual(took);
    expect(r.order).toEqual([v]);
    expect(r.previous[v]).toContain('linear');
    await w.advance(20);
    const n = await w.stop();
    expect(condition(v)).toMatchObject({ suspended: false, inactive: false });
    expect(dm.tableSync(v)).toHaveLength(2);
    expect(countRecords(fs.readFileSync(path.join(mnt, 'log')))).toBe(n);
    umount(mounts.pop()!);
    expect(fsck(dm.nodePath(v)).status).toBe(0);
  });

  it('takes table text and noflush / skip-lockfs', async () => {
    const l = await loop(8 * MiB);
    const v = await device('v', [lin(l.path, 4096)]);
    const suspends: number[] = [];
    dm.setIoctlObserver((s) => s.cmd === 'DEV_SUSPEND' && s.name === v && suspends.push(s.flags));
    const t0 = performance.now();
    const r = await replace(v, `0 4096 linear ${l.major}:${l.minor} 2048\n`, { noflush: true, skipLockfs: true });
    const took = performance.now() - t0;
    dm.setIoctlObserver();
    expect(r.freezeMs).toBeGreaterThan(0);
    expect(r.freezeMs).toBeLessThanOrEqual(took);
    // The suspend asked for both; the resume (no SUSPEND flag) for neither.
    const want = dm.DmFlag.SUSPEND | dm.DmFlag.NOFLUSH | dm.DmFlag.SKIP_LOCKFS;
    expect(suspends.map((f) => f & want)).toEqual([want, 0]);
    expect(dm.tableSync(v)[0].params).toBe(`${l.major}:${l.minor} 2048`);
  });

  it('validates before touching anything (TypeError / RangeError)', async () => {
    const l = await loop(8 * MiB);
    const v = await device('v', [lin(l.path, 4096)]);
    const before = condition(v);
    await expect(replace(v, 42 as never)).rejects.toBeInstanceOf(TypeError);
    await expect(replace(v, [])).rejects.toBeInstanceOf(RangeError);
    await expect(replace(v, [lin(l.path, 100, 0, 5)])).rejects.toBeInstanceOf(RangeError);
    await expect(replace(v, [lin(l.path, 100)], { noflush: 'yes' as never })).rejects.toBeInstanceOf(TypeError);
    expect(condition(v)).toEqual(before);
  });

  it('a table the kernel refuses: fails at "load V", nothing was suspended, state as before', async () => {
    const l = await loop(8 * MiB);
    const v = await device('v', [lin(l.path, 4096)]);
    const before = condition(v);
    const steps: string[] = [];
    setFaultHook((p) => void steps.push(p));
    // linear without its offset: the target's constructor refuses it.
    const err = (await replace(v, [{ start: 0, length: 4096, type: 'linear', params: l.path }]).catch((e) => e)) as OperationError;
    expect(err).toBeInstanceOf(OperationError);
    expect(err.step).toBe('load V');
    expect(err.code).toBe('EINVAL');
    expect(err.state.asBefore).toBe(true);
    expect(steps.some((s) => s.includes('suspend'))).toBe(false);
    expect(condition(v)).toEqual(before);
  });

  it('a table the kernel accepts but cannot resume (past the end of its device): rolled back after "resume V"', async () => {
    const l = await loop(8 * MiB);
    const v = await device('v', [lin(l.path, 4096)]);
    const before = condition(v);
    const err = (await replace(v, [lin(l.path, 4096, (16 * MiB) / 512)]).catch((e) => e)) as OperationError;
    expect(err).toBeInstanceOf(OperationError);
    expect(err.step).toBe('resume V');
    expect(err.state.asBefore).toBe(true);
    expect(condition(v)).toEqual(before);
  });

  it('a fault at every step (kernel refusal or a throw between steps) leaves table, data and flags as before', async () => {
    const l = await loop(8 * MiB);
    const l2 = await loop(8 * MiB);
    fillPattern(l.path, 'one', 2 * MiB);
    fillPattern(l2.path, 'two', 2 * MiB);
    const v = await device('v', [lin(l.path, 4096)]);
    const before = condition(v);
    const sum = deviceSum(dm.nodePath(v));
    const points: string[] = [];
    setFaultHook((p) => void points.push(p));
    await replace(v, [lin(l2.path, 4096)]);
    await replace(v, [lin(l.path, 4096)]);
    setFaultHook();
    const unique = [...new Set(points)];
    expect(unique).toEqual(['replace:inspect', 'replace:load V', 'replace:suspend V', 'replace:resume V']);
    for (const point of unique) {
      for (const kind of ['throw', 'refuse'] as const) {
        setFaultHook((p) => {
          if (p === point) throw kind === 'throw' ? new Error('injected') : kernelRefusal('TABLE_LOAD', v);
        });
        const err = (await replace(v, [lin(l2.path, 4096)]).catch((e) => e)) as OperationError;
        setFaultHook();
        expect(err, point).toBeInstanceOf(OperationError);
        expect(err.step).toBe(point.slice('replace:'.length));
        expect(err.state.asBefore, `${point}: ${err.message}`).toBe(true);
        expect(condition(v)).toEqual(before);
        expect(deviceSum(dm.nodePath(v))).toBe(sum);
      }
    }
  });
});

describe('transaction', () => {
  it('suspends top first, resumes bottom first, and swaps both tables at once', async () => {
    const l = await loop(8 * MiB);
    const l2 = await loop(8 * MiB);
    const low = await device('low', [lin(l.path, 4096)]);
    const lowDev = dm.infoSync(low);
    const top = await device('top', [lin(`${lowDev.major}:${lowDev.minor}`, 2048)]);
    const order: string[] = [];
    setFaultHook((p) => void order.push(p));
    const r = await transaction([
      { device: low, table: [lin(l2.path, 4096)] },
      { device: top, table: [lin(`${lowDev.major}:${lowDev.minor}`, 2048, 1024)] },
    ]);
    expect(r.order).toEqual([top, low]);
    expect(order.filter((p) => /suspend|resume/.test(p))).toEqual([
      `transaction:suspend ${top}`, `transaction:suspend ${low}`, `transaction:resume ${low}`, `transaction:resume ${top}`,
    ]);
    expect(dm.tableSync(low)[0].params).toBe(`${l2.major}:${l2.minor} 0`);
    expect(dm.tableSync(top)[0].params).toBe(`${lowDev.major}:${lowDev.minor} 1024`);
  });

  it('a failure after the lower device resumed rolls both back, in reverse', async () => {
    const l = await loop(8 * MiB);
    const l2 = await loop(8 * MiB);
    const low = await device('low', [lin(l.path, 4096)]);
    const lowDev = dm.infoSync(low);
    const top = await device('top', [lin(`${lowDev.major}:${lowDev.minor}`, 2048)]);
    const b = { low: condition(low), top: condition(top) };
    setFaultHook((p) => {
      if (p === `transaction:resume ${top}`) throw kernelRefusal('DEV_SUSPEND', top);
    });
    const err = (await transaction([
      { device: low, table: [lin(l2.path, 4096)] },
      { device: top, table: [lin(`${lowDev.major}:${lowDev.minor}`, 2048, 1024)] },
    ]).catch((e) => e)) as OperationError;
    expect(err).toBeInstanceOf(OperationError);
    expect(err.step).toBe(`resume ${top}`);
    expect(err.completed).toContain(`resume ${low}`);
    expect(err.state.asBefore).toBe(true);
    expect({ low: condition(low), top: condition(top) }).toEqual(b);
  });

  it('refuses to load a table that references a device devmapper holds suspended', async () => {
    const l = await loop(8 * MiB);
    const l2 = await loop(8 * MiB);
    const a = await device('a', [lin(l.path, 4096)]);
    const aDev = dm.infoSync(a);
    const c = await device('c', [lin(l2.path, 2048)]);
    // Held the way operations hold an origin while a snapshot of it loads.
    await suspendHeld(a);
    let inner: unknown;
    try {
      inner = await replace(c, [lin(`${aDev.major}:${aDev.minor}`, 2048)]).catch((e) => e);
    } finally {
      await resumeHeld(a);
    }
    expect(inner).toBeInstanceOf(OperationError);
    expect((inner as OperationError).step).toBe('load V');
    expect((inner as OperationError).message).toMatch(/holds suspended/);
    expect(dm.infoSync(c).flags.suspended).toBe(false);
    expect(dm.tableSync(c)[0].params).toBe(`${l2.major}:${l2.minor} 0`);
  });
});
