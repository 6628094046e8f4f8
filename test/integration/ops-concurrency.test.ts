// Two processes on one device at once. The first (a node child running the built library) stops
// at its first step, its locks held, until the second (dmctl) is seen waiting for the lock (its
// lock file open in /proc/<pid>/fd); then the first goes on. The outcome is the design's, not
// the scheduler's: the second runs after the first on the new state, or is refused by it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { DeviceLockedError, OperationError, lockFile, setFaultHook } from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { testDir } from '../helpers/loop';
import { MiB, condition, deviceSum, fillPattern, fsck } from '../helpers/ops';
import { dmctlBackground, sleep, type Run } from './cli-helpers';
import { useLockedChildren, untilOpen, type ChildResult } from '../helpers/locked-child';

const { first, children, killAll } = useLockedChildren();
// A first process still held (a test failed early) must not hold locks past its test.
const { ext4WithWriter, finishWriter, twoSegmentDevice } = useTestDevices({
  beforeCleanup: () => {
    setFaultHook();
    killAll();
  },
});
const cowFile = (tag: string): string => path.join(testDir(), `${tag}.cow`);
const cow = (tag: string) => ({ file: cowFile(tag), size: '12M' });

/** Runs the pair: `a` as the first process, dmctl `bArgs` as the second, started while a holds.
 *  The second waits on the first of `devices` in sorted order (the order locks are taken in). */
async function pair(a: ReturnType<typeof first>, bArgs: string[], devices: string[]): Promise<[ChildResult, Run, number]> {
  await a.holding;
  const b = dmctlBackground(bArgs);
  await untilOpen(b.child.pid!, lockFile([...devices].sort()[0]), b);
  a.go();
  const [ra, rb] = await Promise.all([a.done, b.done]);
  return [ra, rb, b.child.pid!];
}

/** Every test device: active, no inactive table, not suspended. */
function allSettled(): void {
  for (const d of dm.listDevicesSync().filter((x) => x.name.startsWith(testName('')))) {
    const i = dm.infoSync(d.name);
    expect({ name: d.name, suspended: i.flags.suspended, inactive: i.flags.inactivePresent, active: i.flags.activePresent }).toEqual({
      name: d.name, suspended: false, inactive: false, active: true,
    });
  }
}


describe('two live operations on one device at once', () => {
  it('divert/divert: the second waits, then is refused because the device is diverted', async () => {
    const { name: v } = await twoSegmentDevice('v1', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    const [r1, r2] = await pair(first('divert', [v], { cow: cow('a') }), ['divert', v, '--cow', cowFile('b'), '--size', '8M'], [v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(10);
    expect(r2.stderr).toMatch(`${v} is diverted, not plain`);
    expect(fs.existsSync(cowFile('b'))).toBe(false);
    allSettled();
    expect((await ops.describe(v)).state).toBe('diverted');
    await w.advance(10);
    await ops.merge(v);
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
  });

  it('merge/merge: both follow one kernel merge; the one that finishes second says the other merged it, and both succeed', async () => {
    const { name: v } = await twoSegmentDevice('v2', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    await ops.divert(v, { cow: cow('m') });
    await w.advance(30);
    const [r1, r2, pid2] = await pair(first('merge', [v]), ['--json', 'merge', v, '-q'], [v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(0);
    const j2 = JSON.parse(r2.stdout);
    expect([r1.result.state, j2.state]).toEqual(['done', 'done']);
    const by = [r1.result.mergedBy, j2.mergedBy].filter(Boolean);
    expect(by).toHaveLength(1);
    expect(by[0].pid).toBe(r1.result.mergedBy ? pid2 : r1.pid);
    allSettled();
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
    expect(fs.existsSync(cowFile('m'))).toBe(false);
  });

  it('merge/discard: the discard waits for the merge to start, then is refused: the device is merging', async () => {
    const { name: v } = await twoSegmentDevice('v3', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    await ops.divert(v, { cow: cow('m') });
    await w.advance(20);
    const [r1, r2] = await pair(first('merge', [v]), ['discard', v], [v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r1.result.mergedBy).toBeUndefined();
    expect(r2.code, r2.stderr).toBe(10);
    expect(r2.stderr).toMatch(`${v} is merging, not diverted`);
    allSettled();
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
  });

  it('divert/merge: the merge waits for the divert, then merges the new state', async () => {
    const { name: v } = await twoSegmentDevice('v4', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    const [r1, r2] = await pair(first('divert', [v], { cow: cow('d') }), ['--json', 'merge', v, '-q'], [v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout)).toEqual({ name: v, state: 'done' });
    allSettled();
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
  });

  it('snapshot create/create of one name: the second waits, then is refused and creates nothing', async () => {
    const { name: v } = await twoSegmentDevice('v5', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    const s = testName(`s-${v.split('-').at(-1)}`);
    const [r1, r2] = await pair(first('snapshot', [v, s], { cow: cow('s1') }), ['snapshot', 'create', v, s, '--cow', cowFile('s2'), '--size', '8M'], [v, s]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(10);
    expect(r2.stderr).toMatch(`a device named ${s} already exists (last changed by snapshot of process ${r1.pid}`);
    expect(fs.existsSync(cowFile('s2'))).toBe(false);
    allSettled();
    const d = await ops.describe(v);
    expect(d.state).toBe('origin');
    expect(d.snapshots!.map((x) => x.name)).toEqual([s]);
    await w.advance(10);
    await ops.removeSnapshot(s);
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
  });

  it('snapshot create/create of two names: the second waits, then both snapshots hold the origin as it was', async () => {
    const { name: v } = await twoSegmentDevice('v11', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    const tag = v.split('-').at(-1);
    const [s1, s2] = [testName(`s1-${tag}`), testName(`s2-${tag}`)];
    const [r1, r2] = await pair(first('snapshot', [v, s1], { cow: cow('t1') }), ['snapshot', 'create', v, s2, '--cow', cowFile('t2'), '--size', '8M'], [v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(0);
    allSettled();
    const d = await ops.describe(v);
    expect(d.state).toBe('origin');
    expect(d.snapshots!.map((x) => x.name).sort()).toEqual([s1, s2].sort());
    await w.advance(10);
    for (const s of [s1, s2]) {
      const f = fsck(dm.nodePath(s)); // frozen at its start, each is a clean filesystem
      expect(f.status, f.output).toBe(0);
      await ops.removeSnapshot(s);
    }
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
  });

  it('discard/discard: the second waits, then is refused because the device is plain again', async () => {
    // No filesystem here: a discard puts the data back as it was at the divert, under any mount.
    const { name: v } = await twoSegmentDevice('v12', 16);
    const original = condition(v);
    fillPattern(dm.nodePath(v), 'old', 4 * MiB);
    const before = deviceSum(dm.nodePath(v));
    await ops.divert(v, { cow: cow('x') });
    fillPattern(dm.nodePath(v), 'new', 4 * MiB);
    const [r1, r2] = await pair(first('discard', [v]), ['discard', v], [v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(10);
    expect(r2.stderr).toMatch(`${v} is plain, not diverted`);
    allSettled();
    expect(condition(v)).toEqual(original);
    expect(deviceSum(dm.nodePath(v))).toBe(before);
    expect(fs.existsSync(cowFile('x'))).toBe(false);
  });

  it('rollback/remove and remove/rollback of one snapshot: the first wins, the second finds no snapshot', async () => {
    // No filesystem on the origin here: a rollback changes its data under a mount.
    const { name: v } = await twoSegmentDevice('v6', 16);
    const original = condition(v);
    const s = testName(`s-${v.split('-').at(-1)}`);
    fillPattern(dm.nodePath(v), 'old', 4 * MiB);
    await ops.createSnapshot(v, s, { cow: cow('r1') });
    const atSnapshot = deviceSum(dm.nodePath(s));
    fillPattern(dm.nodePath(v), 'new', 4 * MiB);
    const [r1, r2] = await pair(first('rollback', [s]), ['snapshot', 'remove', s], [s, v]);
    expect(r1.ok, r1.error?.message).toBe(true);
    expect(r2.code, r2.stderr).toBe(10);
    expect(r2.stderr).toMatch(`no snapshot named ${s} (last changed by rollback of process ${r1.pid}`);
    allSettled();
    expect(condition(v)).toEqual(original);
    expect(deviceSum(dm.nodePath(v))).toBe(atSnapshot);

    await ops.createSnapshot(v, s, { cow: cow('r2') });
    fillPattern(dm.nodePath(v), 'newer', 4 * MiB);
    const now = deviceSum(dm.nodePath(v));
    const [q1, q2] = await pair(first('remove-snapshot', [s]), ['snapshot', 'rollback', s, '-q'], [s, v]);
    expect(q1.ok, q1.error?.message).toBe(true);
    expect(q2.code, q2.stderr).toBe(10);
    expect(q2.stderr).toMatch(`no snapshot named ${s} (last changed by remove-snapshot of process ${q1.pid}`);
    allSettled();
    expect(condition(v)).toEqual(original);
    expect(deviceSum(dm.nodePath(v))).toBe(now);
  });
});

describe('locks', () => {
  it('an operation finds the device locked past its timeout: DeviceLockedError names the holder, exit 5, nothing changed', async () => {
    const { name: v } = await twoSegmentDevice('v7', 16);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 10);
    const a = first('divert', [v], { cow: cow('a') });
    await a.holding;
    // Both dmctl processes start at once (each takes seconds to start in a slow guest): neither
    // can take the lock a holds, so neither changes what the other meets.
    const once = dmctlBackground(['divert', v, '--cow', cowFile('c'), '--size', '8M', '--lock-timeout', '0']);
    const waiting = dmctlBackground(['divert', v, '--cow', cowFile('d'), '--size', '8M', '--lock-timeout', '600']);
    children.push(once.child, waiting.child); // not left waiting if the test fails
    const t0 = Date.now();
    const err = await ops.divert(v, { cow: cow('b'), lockTimeoutMs: 300 }).then(() => undefined, (e) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(err).toBeInstanceOf(DeviceLockedError);
    expect(err).toMatchObject({ code: 'EBUSY', device: v, holder: { pid: a.pid, operation: 'divert', devices: [v] }, holderAlive: true });
    expect(err.message).toMatch(new RegExp(`^${v} is locked by divert of process ${a.pid} \\(since \\d{4}-`));
    const cli = await once.done;
    expect(cli.code, cli.stderr).toBe(5);
    expect(cli.stderr).toMatch(`${v} is locked by divert of process ${a.pid}`);
    // Ctrl-C while dmctl waits for the lock: it stops waiting at once, exit 130, nothing changed.
    await untilOpen(waiting.child.pid!, lockFile(v), waiting);
    waiting.child.kill('SIGINT');
    const stopped = await waiting.done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(new RegExp(`${v} is locked by divert of process ${a.pid} .*; divert stopped waiting when interrupted after \\d+ ms; nothing was changed`));
    expect(condition(v)).toEqual(original);
    expect([cowFile('b'), cowFile('c'), cowFile('d')].some((f) => fs.existsSync(f))).toBe(false);
    a.go();
    expect((await a.done).ok).toBe(true);
    expect(fs.readFileSync(lockFile(v), 'utf8')).toMatch(`"pid":${a.pid}`);
    await ops.merge(v);
    await finishWriter(w, mnt, v);
    expect(condition(v)).toEqual(original);
  });

  it('two operations in one process wait for each other too; an operation nested in another does not', async () => {
    const { name: v } = await twoSegmentDevice('v8', 16);
    const order: string[] = [];
    setFaultHook(async (p) => {
      if (p === 'divert:inspect') {
        order.push('divert starts');
        await sleep(300);
        order.push('divert goes on');
      }
      if (p === 'merge:inspect') order.push('merge starts');
    });
    const [d, m] = await Promise.all([ops.divert(v, { cow: cow('a') }), sleep(50).then(() => ops.merge(v))]);
    expect(d.name).toBe(v);
    expect(m).toEqual({ name: v, state: 'done' });
    expect(order).toEqual(['divert starts', 'divert goes on', 'merge starts']);
    // rollback finishes its merge (finish-merge) holding nothing of the origin's: no self-deadlock.
    const s = testName(`s-${v.split('-').at(-1)}`);
    await ops.createSnapshot(v, s, { cow: cow('b') });
    expect(await ops.rollback(s, { lockTimeoutMs: 0 })).toEqual({ name: v, state: 'done' });
    allSettled();
  });
});

describe('a rollback removes only what its own operation created', () => {
  it('divert: a base another process created under the same name (and the uuid every process once built) stays', async () => {
    const { name: v } = await twoSegmentDevice('v9', 16);
    const original = condition(v);
    const base = ops.baseName(v);
    setFaultHook(async (p) => {
      if (p === 'divert:create base') await dm.create(base, { uuid: `DEVMAPPER-BASE-${v}` });
    });
    const err = await ops.divert(v, { cow: cow('a') }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.step).toBe('create base');
    expect(err.state.asBefore).toBe(true);
    expect(dm.infoSync(base).uuid).toBe(`DEVMAPPER-BASE-${v}`);
    expect(condition(v)).toEqual(original);
    await dm.remove(base);
    setFaultHook();
    // One that succeeds marks what it made with its own nonce.
    await ops.divert(v, { cow: cow('b') });
    expect(dm.infoSync(base).uuid).toMatch(new RegExp(`^DEVMAPPER-BASE-[0-9a-f]{12}-${v}$`));
    await ops.discard(v);
  });

  it('snapshot: a device another process made under the snapshot name stays; the base this operation made goes', async () => {
    const { name: v } = await twoSegmentDevice('v10', 16);
    const original = condition(v);
    const s = testName(`s-${v.split('-').at(-1)}`);
    setFaultHook(async (p) => {
      if (p === 'snapshot:create S') await dm.create(s, { uuid: `DEVMAPPER-SNAP-${s}` });
    });
    const err = await ops.createSnapshot(v, s, { cow: cow('a') }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.step).toBe('create S');
    expect(err.state.asBefore, err.message).toBe(true);
    expect(dm.infoSync(s).uuid).toBe(`DEVMAPPER-SNAP-${s}`);
    expect(dm.listDevicesSync().some((x) => x.name === ops.baseName(v))).toBe(false);
    expect(condition(v)).toEqual(original);
    expect(fs.existsSync(cowFile('a'))).toBe(false);
    await dm.remove(s);
  });
});
