// dmctl recover / ops.recover(): after a reboot (simulated here by taking down every table and loop
// device and keeping the files, which is what a reboot leaves) and after a process killed at every
// step of divert, merge and discard. Snapshots: recover-snapshots.test.ts. The multi-boot test
// with a real reset is in the rig.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import * as ops from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testDir, type TestLoop } from '../helpers/loop';
import { MiB, deviceSum, fillPattern } from '../helpers/ops';
import { beforeCleanup, killAt, pointsOf, recordOf, settled as settledAll, somePoints, useStateDir } from '../helpers/recover';
import { assertBuilt, dmctl } from './cli-helpers';

const { twoSegmentDevice } = useTestDevices({ beforeCleanup });
useStateDir();
beforeAll(() => assertBuilt());

const cowFile = (tag: string): string => path.join(testDir(), `${tag}.cow`);
const record = (v: string) => recordOf(v) as ops.DivertRecord | undefined;

/** What a reboot takes away: every table and loop device. The files stay. */
async function reboot(v: string, disk: TestLoop): Promise<void> {
  await dm.remove(v);
  await dm.remove(ops.baseName(v));
  await loop.detach(disk.path);
  // The COW's loop device was attached with autoclear: it went with the last table that held it.
  expect((await loop.list()).filter((l) => l.file.startsWith(testDir()))).toEqual([]);
}

/** V and its base active: not suspended, no inactive table. */
const settled = (v: string): void => settledAll([v, ops.baseName(v)]);

/** Nothing of the arrangement is left: no record, no base, no COW file. */
function nothingLeft(v: string, cow: string): void {
  expect(record(v)).toBeUndefined();
  expect(dm.listDevicesSync().some((d) => d.name === ops.baseName(v))).toBe(false);
  expect(fs.existsSync(cow)).toBe(false);
}

describe('after a reboot', () => {
  it('a diverted device comes back diverted with every write since the divert; recover twice changes nothing', async () => {
    const { name: v, loop: disk } = await twoSegmentDevice('r1', 16);
    fillPattern(dm.nodePath(v), 'old', 4 * MiB);
    await ops.divert(v, { cow: { file: cowFile('r1'), size: '8M' } });
    fillPattern(dm.nodePath(v), 'new', 2 * MiB);
    const sum = deviceSum(dm.nodePath(v));
    expect(record(v)).toMatchObject({ device: v, state: 'diverted', baseHead: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(record(v)!.operation).toBeUndefined();
    await reboot(v, disk);

    const r = await dmctl(['--json', 'recover']);
    expect(r.code, r.stderr).toBe(0);
    const [rep] = JSON.parse(r.stdout) as ops.RecoverReport[];
    expect(rep).toMatchObject({ device: v, state: 'diverted' });
    expect(rep.did.join('\n')).toMatch(`on ${disk.file}`);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    expect((await ops.describe(v)).state).toBe('diverted');
    settled(v);
    expect(await ops.recover()).toEqual([{ device: v, found: `${v} diverted`, did: [], state: 'diverted' }]);
    // A process killed inside a freeze window leaves V suspended, with a table loaded: resumed.
    await dm.loadRawTable(v, dm.tableSync(v));
    await dm.suspend(v);
    const [tidy] = await ops.recover();
    expect(tidy).toMatchObject({ device: v, state: 'diverted', did: [`dropped the inactive table of ${v}`, `resumed ${v}`] });
    settled(v);

    await ops.merge(v);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    nothingLeft(v, cowFile('r1'));
  });

  it('a merge cut by a reboot carries on where the kernel stopped; recover --wait finishes it', async () => {
    const { name: v, loop: disk } = await twoSegmentDevice('r2', 16);
    fillPattern(dm.nodePath(v), 'old', 8 * MiB);
    await ops.divert(v, { cow: { file: cowFile('r2'), size: '12M' } });
    fillPattern(dm.nodePath(v), 'new', 6 * MiB);
    const sum = deviceSum(dm.nodePath(v));
    await ops.merge(v, { wait: false });
    expect(record(v)!.state).toBe('merging');
    await reboot(v, disk);
    const [rep] = await ops.recover({ wait: true });
    expect(rep).toMatchObject({ device: v, state: 'plain' });
    expect(rep.did).toContain('finished the merge');
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    nothingLeft(v, cowFile('r2'));
  });

  it('a disk changed after the reboot is refused, nothing made; made plain again by the user, it is put back diverted', async () => {
    const { name: v, loop: disk } = await twoSegmentDevice('r3', 16);
    const original = dm.tableSync(v);
    fillPattern(dm.nodePath(v), 'old', 4 * MiB);
    await ops.divert(v, { cow: { file: cowFile('r3'), size: '8M' } });
    fillPattern(dm.nodePath(v), 'new', 2 * MiB);
    const sum = deviceSum(dm.nodePath(v));
    await reboot(v, disk);

    // The user's boot script makes V on its disk again, and something writes to it.
    const again = await loop.attach(disk.file);
    const remap = (t: dm.TargetLine) => ({ ...t, params: t.params.replace(`${disk.major}:${disk.minor}`, `${again.major}:${again.minor}`) });
    const userV = async (): Promise<void> => {
      await dm.create(v);
      await dm.loadRawTable(v, original.map(remap));
      await dm.resume(v);
    };
    await userV();
    const head = fs.readFileSync(dm.nodePath(v)).subarray(0, MiB);
    fillPattern(dm.nodePath(v), 'mounted rw', 4096);
    await dm.remove(v);
    const refused = await ops.recover();
    expect(refused).toMatchObject([{ device: v, state: 'refused', error: expect.stringMatching(/disk changed since the divert/) }]);
    expect(dm.listDevicesSync().filter((d) => d.name === v || d.name === ops.baseName(v))).toEqual([]);
    expect(record(v)!.state).toBe('diverted');
    const cli = await dmctl(['recover']);
    expect(cli.code).toBe(10);
    expect(cli.stderr).toMatch(`dmctl: ${v} could not be recovered; nothing of it was changed`);

    // Put back as it was, made plain again: recover diverts it again, with the writes since.
    await userV();
    const fd = fs.openSync(dm.nodePath(v), 'r+');
    fs.writeSync(fd, head, 0, head.length, 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const [rep] = await ops.recover();
    expect(rep).toMatchObject({ device: v, state: 'diverted', found: `${v} plain (made again after a reboot)` });
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    await ops.discard(v);
    nothingLeft(v, cowFile('r3'));
  });
});

describe('a process killed at any step', { timeout: 1_800_000 }, () => {
  // `switch`: the last step before the operation takes effect (the freeze's fault points are all
  // asked before its window, so killed at 'resume V' V has not been suspended yet). Killed there or
  // earlier, recover undoes it (state `was`); killed later, it finishes it (state `is`). A merge is
  // recovered with wait, so that its end does not depend on how fast the kernel copies.
  const cases = [
    { op: 'divert', prefixes: ['divert'], diverted: false, switch: 'divert:resume V', was: 'plain', is: 'diverted' },
    { op: 'merge', prefixes: ['merge', 'finish-merge'], diverted: true, switch: 'merge:resume V', was: 'diverted', is: 'plain' },
    { op: 'discard', prefixes: ['discard'], diverted: true, switch: 'discard:resume V', was: 'diverted', is: 'plain' },
  ];
  for (const c of cases) {
    it(`${c.op}: recover leaves the device whole, as before when killed up to its switch and as after once past it, and nothing behind once it ends`, async () => {
      let n = 0;
      /** The state the operation starts from: V with old data, diverted with new data for merge and discard. */
      const start = async (): Promise<{ v: string; cow: string; before: string; diverted: string }> => {
        const { name: v } = await twoSegmentDevice(`k${++n}`, 8);
        const cow = cowFile(`k${n}`);
        fillPattern(dm.nodePath(v), 'old', 2 * MiB);
        const before = deviceSum(dm.nodePath(v));
        if (!c.diverted) return { v, cow, before, diverted: before };
        await ops.divert(v, { cow: { file: cow, size: '4M' } });
        fillPattern(dm.nodePath(v), 'new', MiB);
        return { v, cow, before, diverted: deviceSum(dm.nodePath(v)) };
      };
      const first = await start();
      const run = c.op === 'divert'
        ? () => ops.divert(first.v, { cow: { file: first.cow, size: '4M' } })
        : c.op === 'merge' ? () => ops.merge(first.v) : () => ops.discard(first.v);
      const all = await pointsOf(c.prefixes, run);
      expect(all.length).toBeGreaterThanOrEqual(5);
      const sw = all.indexOf(c.switch);
      expect(sw, all.join(', ')).toBeGreaterThan(0);
      // Both sides of the switch every run, with the first, the last and one other step.
      const points = [...new Set([...somePoints(all, c.op), all[sw], all[sw + 1]])].sort((a, b) => all.indexOf(a) - all.indexOf(b));
      if (c.op === 'divert') await ops.discard(first.v);
      await dm.remove(first.v);
      for (const point of points) {
        const s = await start();
        const opts = c.op === 'divert' ? { cow: { file: s.cow, size: '4M' } } : {};
        await killAt(c.op, [s.v], opts, point);
        const reports = await ops.recover({ wait: c.op === 'merge' });
        const mine = reports.filter((r) => r.device === s.v);
        const wantState = all.indexOf(point) > sw ? c.is : c.was;
        // One report, in the state it leaves; none for a divert killed before its record was written.
        const recorded = c.op !== 'divert' || all.indexOf(point) > all.indexOf('divert:write record');
        expect(mine.map((r) => r.state), `${point}: ${JSON.stringify(mine)}`).toEqual(recorded ? [wantState] : []);
        settled(s.v);
        const state = (await ops.describe(s.v)).state;
        expect({ point, state }).toEqual({ point, state: wantState });
        const sum = deviceSum(dm.nodePath(s.v));
        // Data as the state says: discard ends with the old data, everything else keeps the new.
        const want = c.op === 'discard' && state === 'plain' ? s.before : s.diverted;
        expect({ point, sum }).toEqual({ point, sum: want });
        if (state === 'diverted') await ops.discard(s.v);
        else if (state === 'merging') await ops.merge(s.v);
        expect(deviceSum(dm.nodePath(s.v)), point).toBe(state === 'diverted' ? s.before : want);
        nothingLeft(s.v, s.cow);
        await dm.remove(s.v);
      }
    });
  }
});
