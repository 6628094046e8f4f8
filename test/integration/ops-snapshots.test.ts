// Point-in-time snapshots beside a live origin (ext4 mounted, a writer running), several per
// origin, dropping one, and rolling the origin back to one by merging it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { OperationError } from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { testDir } from '../helpers/loop';
import { MiB, condition, countRecords, fsck, mount, umount } from '../helpers/ops';

const { mounts, writers, ext4WithWriter, twoSegmentDevice } = useTestDevices();

const cowFile = (tag: string): string => path.join(testDir(), `${tag}.cow`);

const origin = async (tag: string, mib: number): Promise<string> => (await twoSegmentDevice(tag, mib)).name;

describe('point-in-time snapshots', () => {
  it('S mounts read-only with the old contents while V changes; a second snapshot; drop it; roll V back to S', async () => {
    const v = await origin('v', 64);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 20);
    const s = testName('s1');
    const c1 = cowFile('s1');
    const info = await ops.createSnapshot(v, s, { cow: { file: c1, size: '32M' } });
    expect(info.path).toBe(dm.nodePath(s));
    await w.advance(20);

    const dv = await ops.describe(v);
    expect(dv.state).toBe('origin');
    expect(dv.snapshots!.map((x) => x.name)).toEqual([s]);
    const ds = await ops.describe(s);
    expect(ds.state).toBe('snapshot');
    expect(ds.origin).toBe(v);

    const f = fsck(dm.nodePath(s));
    expect(f.status, f.output).toBe(0);
    const smnt = mount(dm.nodePath(s), { readOnly: true });
    mounts.push(smnt);
    const snapLog = fs.readFileSync(path.join(smnt, 'log'));
    const k = countRecords(snapLog);
    expect(k).toBeGreaterThanOrEqual(20);
    await w.advance(30);
    expect(w.synced).toBeGreaterThan(k + 30);
    expect(fs.readFileSync(path.join(smnt, 'log')).equals(snapLog)).toBe(true);

    // A second snapshot, later in time, then dropped (its COW file goes with it).
    const s2 = testName('s2');
    const c2 = cowFile('s2');
    await ops.createSnapshot(v, s2, { cow: { file: c2, size: '16M' } });
    expect((await ops.describe(v)).snapshots!.map((x) => x.name).sort()).toEqual([s, s2].sort());
    await ops.removeSnapshot(s2);
    expect(dm.listDevicesSync().some((x) => x.name === s2)).toBe(false);
    expect(fs.existsSync(c2)).toBe(false);
    expect((await ops.describe(v)).snapshots!.map((x) => x.name)).toEqual([s]);

    // Rollback: refused while S is mounted, and while V is mounted.
    const busy = (await ops.rollback(s).catch((e) => e)) as OperationError;
    expect(busy).toBeInstanceOf(OperationError);
    expect(busy.code).toBe('EBUSY');
    umount(mounts.pop()!);
    const n = await w.stop();
    writers.pop();
    expect(countRecords(fs.readFileSync(path.join(mnt, 'log')))).toBe(n);
    const busyV = (await ops.rollback(s).catch((e) => e)) as OperationError;
    expect(busyV.code).toBe('EBUSY');
    expect(busyV.message).toMatch(/mounted/);
    umount(mounts.pop()!);

    const progress: number[] = [];
    const r = await ops.rollback(s, { onProgress: (p) => progress.push(p.fraction) });
    expect(r).toEqual({ name: v, state: 'done' });
    expect(progress.at(-1)).toBe(1);
    expect(condition(v)).toEqual(original);
    expect((await ops.describe(v)).state).toBe('plain');
    expect(dm.listDevicesSync().some((x) => x.name === s || x.name === `${v}-dmbase`)).toBe(false);
    expect(fs.existsSync(c1)).toBe(false);
    const g = fsck(dm.nodePath(v));
    expect(g.status, g.output).toBe(0);
    const m2 = mount(dm.nodePath(v));
    mounts.push(m2);
    expect(fs.readFileSync(path.join(m2, 'log')).equals(snapLog)).toBe(true);
  });

  it('dropping the last snapshot returns the origin to its original table', async () => {
    const v = await origin('v', 32);
    const original = condition(v);
    const s = testName('s');
    await ops.createSnapshot(v, s, { cow: { file: cowFile('last'), size: '8M' }, persistent: 'PO', chunkSectors: 16 });
    expect((await ops.describe(s)).persistent).toBe('PO');
    await ops.removeSnapshot(s);
    expect(condition(v)).toEqual(original);
    expect((await ops.describe(v)).state).toBe('plain');
  });

  it('rolling back to one of two snapshots keeps the other: V stays an origin', async () => {
    const v = await origin('v', 16);
    const original = condition(v);
    const write = (tag: string): void => {
      const fd = fs.openSync(dm.nodePath(v), 'r+');
      fs.writeSync(fd, Buffer.alloc(2 * MiB, tag), 0, 2 * MiB, 0);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    };
    const head = (dev: string): string => {
      const fd = fs.openSync(dm.nodePath(dev), 'r');
      const b = Buffer.alloc(16);
      fs.readSync(fd, b, 0, 16, MiB);
      fs.closeSync(fd);
      return b.toString();
    };
    write('a');
    const s1 = testName('s1');
    const s2 = testName('s2');
    await ops.createSnapshot(v, s1, { cow: { file: cowFile('o1'), size: '8M' } });
    write('b');
    await ops.createSnapshot(v, s2, { cow: { file: cowFile('o2'), size: '8M' } });
    write('c');
    expect([head(v), head(s1), head(s2)]).toEqual(['c'.repeat(16), 'a'.repeat(16), 'b'.repeat(16)]);
    await ops.rollback(s1);
    const d = await ops.describe(v);
    expect(d.state).toBe('origin');
    expect(d.snapshots!.map((x) => x.name)).toEqual([s2]);
    expect([head(v), head(s2)]).toEqual(['a'.repeat(16), 'b'.repeat(16)]);
    await ops.removeSnapshot(s2);
    expect(condition(v)).toEqual(original);
    expect(head(v)).toBe('a'.repeat(16));
  });

  it('a rollback started by another process is finished by this one', async () => {
    const v = await origin('v', 32);
    const original = condition(v);
    const s = testName('s');
    await ops.createSnapshot(v, s, { cow: { file: cowFile('x'), size: '16M' } });
    const fd = fs.openSync(dm.nodePath(v), 'r+');
    fs.writeSync(fd, Buffer.alloc(8 * MiB, 0x41), 0, 8 * MiB, 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(path.join(__dirname, '../../node_modules/.bin/vite-node'), [path.join(__dirname, '../helpers/ops-child.ts'), 'rollback', s], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const d = await ops.describe(v);
    // Nothing here finishes a merge but this process: V merges until it does.
    expect(d.state).toBe('merging');
    await ops.merge(v);
    expect(condition(v)).toEqual(original);
  });

  it('a forced rollback drops what a holder of V had cached from the writes it rolls back', async () => {
    const { name: v } = await twoSegmentDevice('rc', 8);
    const s = testName('rc-s');
    const block = (tag: string): Buffer => Buffer.alloc(4096, tag);
    const fd = fs.openSync(dm.nodePath(v), 'r+');
    try {
      fs.writeSync(fd, block('o'), 0, 4096, 0);
      fs.fsyncSync(fd);
      await ops.createSnapshot(v, s, { cow: { file: path.join(testDir(), 'rc.cow'), size: '8M' } });
      fs.writeSync(fd, block('x'), 0, 4096, 0); // V changes after the snapshot, and caches it
      fs.fsyncSync(fd);
      expect((await ops.rollback(s, { force: true })).state).toBe('done');
      const seen = Buffer.alloc(4096);
      fs.readSync(fd, seen, 0, 4096, 0);
      expect(seen.equals(block('o'))).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });
});
