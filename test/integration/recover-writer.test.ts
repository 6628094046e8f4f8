// A live operation killed with SIGKILL at random steps while V is a mounted ext4 with a writer
// that fsyncs, as on a user's host: the kill can land inside a freeze (V suspended, its filesystem
// frozen, the writer blocked). After dmctl recover the writer goes on by itself, and at the end
// every record it synced is in its log, and fsck finds the filesystem clean.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import * as ops from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { testDir } from '../helpers/loop';
import { beforeCleanup, killAt, pointsOf, recordOf, settled, somePoints, useStateDir } from '../helpers/recover';
import { assertBuilt, ok } from './cli-helpers';

const { ext4WithWriter, finishWriter, twoSegmentDevice } = useTestDevices({ beforeCleanup });
useStateDir();
beforeAll(() => assertBuilt());

let n = 0;
const cowFile = (): string => path.join(testDir(), `w${++n}.cow`);

/** Each operation from a state it starts from, and back to V plain after it. */
const OPS = {
  divert: {
    prepare: async () => undefined,
    args: (v: string) => [v],
    opts: () => ({ cow: { file: cowFile(), size: '16M' } }),
    run: (v: string, o: object) => ops.divert(v, o as ops.DivertOptions),
  },
  merge: {
    prepare: async (v: string) => void (await ops.divert(v, { cow: { file: cowFile(), size: '16M' } })),
    args: (v: string) => [v],
    opts: () => ({}),
    run: (v: string) => ops.merge(v),
  },
  snapshot: {
    prepare: async () => undefined,
    args: (v: string) => [v, testName('w-s')],
    opts: () => ({ cow: { file: cowFile(), size: '16M' } }),
    run: (v: string, o: object) => ops.createSnapshot(v, testName('w-s'), o as ops.SnapshotOptions),
  },
  'remove-snapshot': {
    prepare: async (v: string) => void (await ops.createSnapshot(v, testName('w-s'), { cow: { file: cowFile(), size: '16M' } })),
    args: () => [testName('w-s')],
    opts: () => ({}),
    run: () => ops.removeSnapshot(testName('w-s')),
  },
  'grow-cow': {
    prepare: async (v: string) => void (await ops.divert(v, { cow: { file: cowFile(), size: '16M' } })),
    args: (v: string) => [v, String(32 << 20)],
    opts: () => ({}),
    run: (v: string) => ops.growCow(v, 32 << 20),
  },
} as const;

/** Whatever arrangement is left ends, with V mounted: merged back, or its snapshot removed. */
async function backToPlain(v: string): Promise<void> {
  const d = await ops.describe(v);
  if (d.state === 'diverted' || d.state === 'merging') await ops.merge(v);
  for (const s of d.snapshots ?? []) await ops.removeSnapshot(s.name);
  expect((await ops.describe(v)).state).toBe('plain');
}

describe('killed under a mounted ext4 with a writer that fsyncs', { timeout: 1_800_000 }, () => {
  for (const [op, c] of Object.entries(OPS)) {
    it(`${op}: after recover the writer goes on, every synced record is kept, fsck is clean`, async () => {
      const { name: v } = await twoSegmentDevice(`w-${op}`, 48);
      const { mnt, w } = await ext4WithWriter(v, 10);
      await c.prepare(v);
      const all = await pointsOf([op, 'finish-merge'], () => c.run(v, c.opts()));
      await backToPlain(v);
      // One random step per run (the log names it): runs together cover them all.
      for (const point of somePoints(all, op, 1)) {
        await c.prepare(v);
        await w.advance(5);
        await killAt(op, c.args(v), c.opts(), point);
        const cli = await ok(['recover', '--wait']);
        expect(cli, point).not.toMatch(/refused/);
        settled([v, ops.baseName(v), testName('w-s')]);
        await w.advance(5, 30_000); // not blocked by a frozen filesystem or a suspended device
        await backToPlain(v);
      }
      await finishWriter(w, mnt, v);
      // Everything finished: no record, no base, no snapshot, no COW file, no loop device on one.
      expect(recordOf(v)).toBeUndefined();
      expect(dm.listDevicesSync().map((d) => d.name).filter((x) => x === ops.baseName(v) || x === testName('w-s'))).toEqual([]);
      expect(fs.readdirSync(testDir()).filter((f) => f.endsWith('.cow'))).toEqual([]);
      expect((await loop.list()).filter((l) => l.file.endsWith('.cow'))).toEqual([]);
    });
  }
});
