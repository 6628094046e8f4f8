// Faults at every step of every operation: a throw between two steps, a kernel refusal at every
// load/suspend/resume, and real refusals (a COW too small or missing, a name taken, a busy device).
// Before the commit point every device must end as it was: original table, not suspended, no
// inactive table, same data, nothing left behind. After it (cleanup steps), the operation stands
// and nothing is suspended.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { OperationError, kernelRefusal, setFaultHook } from '../../src/ops';
import { sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { MiB, deviceSum, fillPattern } from '../helpers/ops';
import * as loop from '../../src/loop';

const loops: TestLoop[] = [];
beforeAll(async () => {
  await sweep(testName(''));
});
afterEach(async () => {
  setFaultHook();
  expect(await sweep(testName(''))).toEqual([]);
  while (loops.length) await loops.pop()!.cleanup();
});
afterAll(removeTestDir);

const lin = (dev: string, sectors: number, offset = 0, start = 0): dm.TargetInput => ({ start, length: sectors, type: 'linear', params: `${dev} ${offset}` });
let seq = 0;
const cowFile = (): string => path.join(testDir(), `f${++seq}.cow`);

/** Every test device: name -> its condition. */
function world(): Record<string, { table: string; suspended: boolean; inactive: boolean }> {
  const out: Record<string, { table: string; suspended: boolean; inactive: boolean }> = {};
  for (const d of dm.listDevicesSync().filter((x) => x.name.startsWith(testName('')))) {
    const i = dm.infoSync(d.name);
    out[d.name] = {
      table: dm.tableSync(d.name).map((t) => `${t.start} ${t.length} ${t.type} ${t.params}`).join('\n'),
      suspended: i.flags.suspended,
      inactive: i.flags.inactivePresent,
    };
  }
  return out;
}

async function boundFiles(): Promise<string[]> {
  return (await loop.list()).map((l) => l.file).filter((f) => f.startsWith(testDir()) && f.endsWith('.cow'));
}

// Small: every fault point checksums the device (and each fresh start fills it) in a slow guest.
// The merge cases' 0.5 MiB of new data still covers only part of the first segment.
const V_MIB = 2;
async function freshV(): Promise<string> {
  await sweep(testName(''));
  while (loops.length) await loops.pop()!.cleanup();
  const l = await makeLoop((V_MIB + 1) * MiB);
  loops.push(l);
  const half = (V_MIB / 2) * 2048;
  const v = testName('v');
  await dm.create(v);
  await dm.loadRawTable(v, [lin(l.path, half, half + 2048), lin(l.path, half, 0, half)]);
  await dm.resume(v);
  fillPattern(dm.nodePath(v), 'v0', V_MIB * MiB);
  return v;
}

interface Case {
  op: string;
  /** Brings the devices to the state the operation starts from; returns the device to checksum. */
  setup(): Promise<{ v: string; run: () => Promise<unknown>; data?: string }>;
}

/** Records the fault points of a clean run, then fails each one (a throw; and a kernel refusal). */
async function matrix(c: Case): Promise<string[]> {
  const points: string[] = [];
  {
    const { run } = await c.setup();
    setFaultHook((p) => void (p.startsWith(`${c.op}:`) && points.push(p)));
    await run();
    setFaultHook();
  }
  const tried: string[] = [];
  // A fault before the commit point must leave every device as it was: the next fault then starts
  // from that state, which proves it usable too. Only after a committed one is it set up afresh.
  let start: Awaited<ReturnType<Case['setup']>> | undefined;
  // The state a fault starts from. After a fault before the commit point the checks below have
  // just found every device, the checksum and the bound files equal to it: the next fault starts
  // from it again, and it is not read a second time.
  let from: { before: ReturnType<typeof world>; sum: string; files: string[] } | undefined;
  for (const point of points) {
    {
      // At a kernel command the fault is the kernel's refusal; between other steps, a plain throw.
      const kind = /:(load|suspend|resume|create) /.test(point) ? 'refuse' : 'throw';
      if (!start) {
        start = await c.setup();
        from = undefined;
      }
      const { v, run, data = v } = start;
      from ??= { before: world(), sum: deviceSum(dm.nodePath(data)), files: await boundFiles() };
      const { before, sum, files } = from;
      setFaultHook((p) => {
        if (p === point) throw kind === 'throw' ? new Error(`injected at ${p}`) : kernelRefusal(/load/.test(p) ? 'TABLE_LOAD' : 'DEV_SUSPEND', v);
      });
      const err = (await run().then(() => undefined, (e) => e)) as OperationError | undefined;
      setFaultHook();
      const label = `${point} (${kind})`;
      expect(err, label).toBeInstanceOf(OperationError);
      expect(err!.step, label).toBe(point.slice(c.op.length + 1));
      if (err!.committed) start = from = undefined;
      const now = world();
      // Never a device left suspended or with an inactive table, whatever happened.
      for (const [name, d] of Object.entries(now)) expect({ name, s: d.suspended, i: d.inactive }, label).toEqual({ name, s: false, i: false });
      expect(deviceSum(dm.nodePath(err!.committed ? v : data)), label).toBe(sum);
      if (!err!.committed) {
        expect(err!.state.asBefore, `${label}: ${err!.message}`).toBe(true);
        expect(now, label).toEqual(before);
        expect(await boundFiles(), label).toEqual(files);
      }
      tried.push(label);
    }
  }
  return tried;
}

describe('faults at every step', { timeout: 900_000 }, () => {
  it('divert', async () => {
    const tried = await matrix({
      op: 'divert',
      async setup() {
        const v = await freshV();
        return { v, run: () => ops.divert(v, { cow: { file: cowFile(), size: '2M' } }) };
      },
    });
    expect(tried.length).toBeGreaterThanOrEqual(10);
  });

  it('merge (start) and finish-merge', async () => {
    await matrix({
      op: 'merge',
      async setup() {
        const v = await freshV();
        await ops.divert(v, { cow: { file: cowFile(), size: '2M' } });
        fillPattern(dm.nodePath(v), 'v1', MiB / 2);
        return { v, run: () => ops.merge(v, { wait: false }) };
      },
    });
    await matrix({
      op: 'finish-merge',
      async setup() {
        const v = await freshV();
        await ops.divert(v, { cow: { file: cowFile(), size: '2M' } });
        fillPattern(dm.nodePath(v), 'v1', MiB / 2);
        await ops.merge(v, { wait: false });
        await ops.waitMerge(v);
        return { v, run: () => ops.finishMerge(v) };
      },
    });
  });

  it('discard', async () => {
    await matrix({
      op: 'discard',
      async setup() {
        const v = await freshV();
        await ops.divert(v, { cow: { file: cowFile(), size: '2M' } });
        return { v, run: () => ops.discard(v) };
      },
    });
  });

  const s1 = testName('s1');
  const s2 = testName('s2');
  it('createSnapshot (the first: origin set up too)', async () => {
    await matrix({
      op: 'snapshot',
      async setup() {
        const v = await freshV();
        return { v, run: () => ops.createSnapshot(v, s1, { cow: { file: cowFile(), size: '2M' } }) };
      },
    });
  });
  it('createSnapshot (a second one)', async () => {
    await matrix({
      op: 'snapshot',
      async setup() {
        const v = await freshV();
        await ops.createSnapshot(v, s1, { cow: { file: cowFile(), size: '2M' } });
        return { v, run: () => ops.createSnapshot(v, s2, { cow: { file: cowFile(), size: '2M' } }) };
      },
    });
  });
  it('removeSnapshot (the last one, and one of two)', async () => {
    for (const others of [false, true]) {
      await matrix({
        op: 'remove-snapshot',
        async setup() {
          const v = await freshV();
          await ops.createSnapshot(v, s1, { cow: { file: cowFile(), size: '2M' } });
          if (others) await ops.createSnapshot(v, s2, { cow: { file: cowFile(), size: '2M' } });
          return { v, run: () => ops.removeSnapshot(s1) };
        },
      });
    }
  });
  it('rollback', async () => {
    await matrix({
      op: 'rollback',
      async setup() {
        const v = await freshV();
        await ops.createSnapshot(v, s1, { cow: { file: cowFile(), size: '2M' } });
        // The checksummed device is the snapshot's contents: what V shows once rolled back.
        return { v, data: s1, run: () => ops.rollback(s1, { wait: false }) };
      },
    });
  });
});

describe('real refusals', () => {
  it('a COW too small, a COW that does not exist, a base name taken: rolled back, as before', async () => {
    const v = await freshV();
    const before = world();
    const sum = deviceSum(dm.nodePath(v));
    const tiny = cowFile();
    const small = (await ops.divert(v, { cow: { file: tiny, size: 1024 } }).catch((e) => e)) as OperationError;
    expect(small).toBeInstanceOf(OperationError);
    expect(small.step).toBe('load V');
    expect(small.state.asBefore).toBe(true);
    expect(fs.existsSync(tiny)).toBe(false);
    const missing = (await ops.divert(v, { cow: '/dev/nonexistent-cow' }).catch((e) => e)) as OperationError;
    expect(missing.step).toBe('check cow');
    expect(missing.code).toBe('ENOENT');
    await dm.create(`${v}-dmbase`);
    const taken = (await ops.divert(v, { cow: { file: cowFile(), size: '2M' } }).catch((e) => e)) as OperationError;
    expect(taken.step).toBe('create base');
    expect(taken.code).toBe('EBUSY');
    await dm.remove(`${v}-dmbase`);
    expect(world()).toEqual(before);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    expect(await boundFiles()).toEqual([]);
  });

  it('a snapshot that is open cannot be removed or rolled back (EBUSY), nothing changes', async () => {
    const v = await freshV();
    const s = testName('s');
    await ops.createSnapshot(v, s, { cow: { file: cowFile(), size: '2M' } });
    const before = world();
    const fd = fs.openSync(dm.nodePath(s), 'r');
    try {
      for (const f of [() => ops.removeSnapshot(s), () => ops.rollback(s)]) {
        const e = (await f().catch((x) => x)) as OperationError;
        expect(e).toBeInstanceOf(OperationError);
        expect(e.code).toBe('EBUSY');
        expect(world()).toEqual(before);
      }
    } finally {
      fs.closeSync(fd);
    }
    await ops.removeSnapshot(s);
  });
});
