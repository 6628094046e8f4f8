// dmctl recover for origins with point-in-time snapshots: after a reboot (simulated: every table
// and loop device taken down, the files kept) the origin and its snapshots come back with their
// contents; a rollback cut by a reboot resumes; and a snapshot create, remove or rollback killed
// with SIGKILL at a step leaves, after recover, every device active, the arrangement as before when
// the kill came before the operation's switch and as after when it came later, every device's data
// as that state says, and nothing once it is ended.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import * as ops from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { testDir, type TestLoop } from '../helpers/loop';
import { MiB, deviceSum, fillPattern } from '../helpers/ops';
import { beforeCleanup, killAt, pointsOf, recordOf, settled, somePoints, useStateDir } from '../helpers/recover';
import { assertBuilt } from './cli-helpers';

const { twoSegmentDevice } = useTestDevices({ beforeCleanup });
useStateDir();
beforeAll(() => assertBuilt());

const cowFile = (tag: string): string => path.join(testDir(), `${tag}.cow`);
const exists = (n: string): boolean => dm.listDevicesSync().some((d) => d.name === n);

/** What a reboot takes away: every table and loop device. The files stay. */
async function reboot(names: string[], disk: TestLoop): Promise<void> {
  for (const n of names) if (exists(n)) await dm.remove(n);
  await loop.detach(disk.path);
  expect((await loop.list()).filter((l) => l.file.startsWith(testDir()))).toEqual([]);
}

/** Nothing of the arrangement is left: no record, no base, no snapshot, no COW file. */
function nothingLeft(v: string, snaps: string[], cows: string[], point = ''): void {
  expect(recordOf(v), point).toBeUndefined();
  for (const n of [ops.baseName(v), ...snaps]) expect(exists(n), `${point} ${n}`).toBe(false);
  for (const c of cows) expect(fs.existsSync(c), `${point} ${c}`).toBe(false);
}

describe('origins with snapshots after a reboot', () => {
  it('the origin and both snapshots come back with their contents; recover twice changes nothing', async () => {
    const { name: v, loop: disk } = await twoSegmentDevice('rs1', 16);
    const [s1, s2] = [testName('rs1-a'), testName('rs1-b')];
    fillPattern(dm.nodePath(v), 'one', 4 * MiB);
    await ops.createSnapshot(v, s1, { cow: { file: cowFile('rs1-a'), size: '8M' } });
    fillPattern(dm.nodePath(v), 'two', 2 * MiB);
    await ops.createSnapshot(v, s2, { cow: { file: cowFile('rs1-b'), size: '8M' } });
    fillPattern(dm.nodePath(v), 'three', MiB);
    const sums = [v, s1, s2].map((n) => deviceSum(dm.nodePath(n)));
    expect(recordOf(v)).toMatchObject({ kind: 'origin', state: 'origin', snapshots: [{ name: s1 }, { name: s2 }] });
    expect(recordOf(v)!.operation).toBeUndefined();
    await reboot([s1, s2, v, ops.baseName(v)], disk);

    const [rep] = await ops.recover();
    expect(rep, JSON.stringify(rep)).toMatchObject({ device: v, state: 'origin' });
    expect([v, s1, s2].map((n) => deviceSum(dm.nodePath(n)))).toEqual(sums);
    expect((await ops.describe(v)).snapshots!.map((s) => s.name).sort()).toEqual([s1, s2].sort());
    settled([v, s1, s2, ops.baseName(v)]);
    expect(await ops.recover()).toEqual([{ device: v, found: `${v} origin`, did: [], state: 'origin' }]);

    await ops.removeSnapshot(s1);
    expect(recordOf(v)!.snapshots.map((s: { name: string }) => s.name)).toEqual([s2]);
    await ops.removeSnapshot(s2);
    expect(deviceSum(dm.nodePath(v))).toBe(sums[0]);
    nothingLeft(v, [s1, s2], [cowFile('rs1-a'), cowFile('rs1-b')]);
  });

  it('a rollback cut by a reboot resumes its merge; recover --wait finishes it: the origin holds the snapshot\'s contents', async () => {
    const { name: v, loop: disk } = await twoSegmentDevice('rs2', 16);
    const s = testName('rs2-s');
    fillPattern(dm.nodePath(v), 'old', 6 * MiB);
    await ops.createSnapshot(v, s, { cow: { file: cowFile('rs2'), size: '12M' } });
    const want = deviceSum(dm.nodePath(s));
    fillPattern(dm.nodePath(v), 'new', 6 * MiB);
    await ops.rollback(s, { wait: false });
    expect(recordOf(v)).toMatchObject({ state: 'merging', merging: { name: s }, snapshots: [] });
    await reboot([v, ops.baseName(v)], disk);
    const [rep] = await ops.recover({ wait: true });
    expect(rep).toMatchObject({ device: v, state: 'plain' });
    expect(deviceSum(dm.nodePath(v))).toBe(want);
    nothingLeft(v, [s], [cowFile('rs2')]);
  });
});

describe('looking before acting', () => {
  it('after a killed snapshot create, every snapshot operation on the origin refuses, naming dmctl recover; after recover they work', async () => {
    const { name: v } = await twoSegmentDevice('la', 8);
    const [keep, s] = [testName('la-k'), testName('la-s')];
    await ops.createSnapshot(v, keep, { cow: { file: cowFile('la-k'), size: '4M' } });
    await killAt('snapshot', [v, s], { cow: { file: cowFile('la-s'), size: '4M' } }, 'snapshot:create S');
    const refused = /interrupted; run 'dmctl recover'/;
    await expect(ops.createSnapshot(v, testName('la-t'), { cow: { file: cowFile('la-t'), size: '4M' } })).rejects.toThrow(refused);
    await expect(ops.removeSnapshot(keep)).rejects.toThrow(refused);
    await expect(ops.rollback(keep)).rejects.toThrow(refused);
    expect(exists(keep)).toBe(true);
    expect(fs.existsSync(cowFile('la-t'))).toBe(false);
    await ops.recover();
    settled([v, keep, s, ops.baseName(v)]);
    await end(v, [keep, s]);
    nothingLeft(v, [keep, s], [cowFile('la-k'), cowFile('la-s')]);
    await dm.remove(v);
  });
});

/** V with data, one snapshot S1 kept throughout (so V stays an origin), and for remove and rollback
 *  the snapshot S2 they act on; V written after each. Numbered across the file (a retried test
 *  must not meet the COW files of its first try). */
let made = 0;
async function killStart(op: 'snapshot' | 'remove-snapshot' | 'rollback') {
  const n = ++made;
  const { name: v } = await twoSegmentDevice(`ks${n}`, 8);
  const keep = testName(`ks${n}-k`);
  const s = testName(`ks${n}-s`);
  const cows = [cowFile(`ks${n}-k`), cowFile(`ks${n}-s`)];
  fillPattern(dm.nodePath(v), 'old', 2 * MiB);
  await ops.createSnapshot(v, keep, { cow: { file: cows[0], size: '4M' } });
  const keepSum = deviceSum(dm.nodePath(keep));
  fillPattern(dm.nodePath(v), 'mid', MiB);
  let sSum = '';
  if (op !== 'snapshot') {
    await ops.createSnapshot(v, s, { cow: { file: cows[1], size: '4M' } });
    sSum = deviceSum(dm.nodePath(s));
    fillPattern(dm.nodePath(v), 'new', MiB / 2);
  }
  return { v, keep, s, cows, keepSum, sSum, vSum: deviceSum(dm.nodePath(v)) };
}

/** A rollback's steps after its record names S as merging and before S is removed (tested on
 *  their own below, every run). */
const mergingRecorded = ['rollback:flush V page cache', 'rollback:remove S'];

describe('a snapshot operation killed at any step', { timeout: 1_800_000 }, () => {
  const cases = ['snapshot', 'remove-snapshot', 'rollback'] as const;
  /** The last step before each operation takes effect: killed at it or earlier (the step not run),
   *  recover undoes the operation; killed at any later step, it finishes it. A create switches when
   *  S resumes, a remove when S is removed, a rollback when V resumes on its merge table. */
  const switchStep = { snapshot: 'snapshot:resume S', 'remove-snapshot': 'remove-snapshot:remove S', rollback: 'rollback:resume V' };
  for (const op of cases) {
    it(`${op}: recover leaves every device whole, as before when killed up to its switch and as after once past it, and nothing once it ends`, async () => {
      const start = () => killStart(op);
      const first = await start();
      const run = op === 'snapshot'
        ? () => ops.createSnapshot(first.v, first.s, { cow: { file: first.cows[1], size: '4M' } })
        : op === 'remove-snapshot' ? () => ops.removeSnapshot(first.s) : () => ops.rollback(first.s);
      const all = await pointsOf([op, 'finish-merge'], run);
      expect(all.length).toBeGreaterThanOrEqual(5);
      const sw = all.indexOf(switchStep[op]);
      expect(sw, all.join(', ')).toBeGreaterThan(0);
      // Both sides of the switch every run, with the first, the last and one other step.
      if (op === 'rollback') expect(all).toEqual(expect.arrayContaining(mergingRecorded));
      const points = [...new Set([...somePoints(all, op), all[sw], all[sw + 1]])].sort((a, b) => all.indexOf(a) - all.indexOf(b));
      await end(first.v, [first.keep, first.s]);
      await dm.remove(first.v);
      for (const point of points) {
        const t = await start();
        const args = op === 'snapshot' ? [t.v, t.s] : [t.s];
        await killAt(op, args, op === 'snapshot' ? { cow: { file: t.cows[1], size: '4M' } } : {}, point);
        const reports = await ops.recover({ wait: true });
        const mine = reports.filter((r) => r.device === t.v);
        // V's record is there from the start (it is an origin): one report, an origin.
        expect(mine.map((r) => r.state), `${point}: ${JSON.stringify(reports)}`).toEqual(['origin']);
        settled([t.v, ops.baseName(t.v), t.keep, t.s]);
        const d = await ops.describe(t.v);
        expect(d.state, point).toBe('origin');
        // The kept snapshot is untouched; S exists exactly when the state says, with its contents.
        expect(deviceSum(dm.nodePath(t.keep)), point).toBe(t.keepSum);
        const names = d.snapshots!.map((x) => x.name);
        expect(names, point).toContain(t.keep);
        const after = all.indexOf(point) > sw;
        // S exists exactly when the state says: after a create, before a remove or a rollback.
        expect(names.sort(), point).toEqual((after === (op === 'snapshot') ? [t.keep, t.s] : [t.keep]).sort());
        const vSum = deviceSum(dm.nodePath(t.v));
        if (op === 'snapshot') {
          expect(vSum, point).toBe(t.vSum);
          if (after) expect(deviceSum(dm.nodePath(t.s)), point).toBe(t.vSum);
        } else if (op === 'remove-snapshot') {
          expect(vSum, point).toBe(t.vSum);
          if (!after) expect(deviceSum(dm.nodePath(t.s)), point).toBe(t.sSum);
        } else {
          // Rolled back (S merged into V and gone), or not (S as it was, V as it was).
          expect(vSum, point).toBe(after ? t.sSum : t.vSum);
          if (!after) expect(deviceSum(dm.nodePath(t.s)), point).toBe(t.sSum);
        }
        expect(names.length, point).toBe(exists(t.s) ? 2 : 1);
        expect(recordOf(t.v)!.snapshots.map((x: { name: string }) => x.name).sort(), point).toEqual(names.sort());
        await end(t.v, [t.keep, t.s]);
        nothingLeft(t.v, [t.keep, t.s], t.cows, point);
        await dm.remove(t.v);
      }
    });
  }
});

describe('a rollback killed after its record names S as merging, before S is removed', { timeout: 600_000 }, () => {
  // The record has moved S from `snapshots` to `merging` by then: recover must find S there, remove
  // it (its exceptions belong to the merge) and leave nothing suspended.
  for (const point of mergingRecorded) {
    it(`killed at ${point}: recover removes S and leaves nothing suspended`, async () => {
      const t = await killStart('rollback');
      await killAt('rollback', [t.s], {}, point);
      const reports = await ops.recover({ wait: true });
      expect(reports.filter((r) => r.device === t.v).map((r) => r.state)).toEqual(['origin']);
      settled([t.v, ops.baseName(t.v), t.keep, t.s]);
      expect(exists(t.s)).toBe(false);
      expect(deviceSum(dm.nodePath(t.v))).toBe(t.sSum);
      await end(t.v, [t.keep, t.s]);
      nothingLeft(t.v, [t.keep, t.s], t.cows, point);
      await dm.remove(t.v);
    });
  }
});

/** Removes every snapshot left: V back on its own table. */
async function end(v: string, snaps: string[]): Promise<void> {
  for (const s of snaps) if (exists(s)) await ops.removeSnapshot(s);
}
