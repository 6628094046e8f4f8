// divert / merge / discard against the real kernel, with ext4 mounted on V and a writer that
// appends and fsyncs throughout.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { OperationError, setFaultHook } from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testDir } from '../helpers/loop';
import { MiB, condition, countRecords, debugfsCat, deviceSum, fillPattern, fsck, mount, umount } from '../helpers/ops';

const { loop, mounts, writers, ext4WithWriter, twoSegmentDevice } = useTestDevices();
afterEach(() => void setFaultHook());

const cowFile = (tag: string): string => path.join(testDir(), `${tag}.cow`);

describe('divert', () => {
  it('divert then merge: the base is a clean image of the switch; after the merge V holds every write', async () => {
    const { name: v } = await twoSegmentDevice('v', 64);
    const original = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 30);
    const before = w.synced;
    const cow = cowFile('c1');
    const t0 = performance.now();
    const info = await ops.divert(v, { cow: { file: cow, size: '48M' } });
    const took = performance.now() - t0;
    const after = w.synced;
    expect(info.base.name).toBe(`${v}-dmbase`);
    expect(info.cow.owned).toBe(true);
    expect(info.freezeMs).toBeGreaterThan(0);
    expect(info.freezeMs).toBeLessThanOrEqual(took); // milliseconds, inside the call
    const d = await ops.describe(v);
    expect(d.state).toBe('diverted');
    expect(d.base!.readOnly).toBe(true);
    expect(d.base!.table).toBe(`${original.table}\n`);

    // The base: consistent, and exactly what was written before the switch.
    const f = fsck(info.base.path);
    expect(f.status, f.output).toBe(0);
    const atSwitch = debugfsCat(info.base.path, '/log');
    const k = countRecords(atSwitch);
    expect(k).toBeGreaterThanOrEqual(before);
    expect(k).toBeLessThanOrEqual(after + 1);

    await w.advance(40); // these land in the COW
    expect((await ops.describe(v)).cow!.percentFull).toBeGreaterThan(0);
    // The base does not change while V is written.
    expect(debugfsCat(info.base.path, '/log').equals(atSwitch)).toBe(true);

    const progress: number[] = [];
    const r = await ops.merge(v, { onProgress: (p) => progress.push(p.fraction) });
    expect(r.state).toBe('done');
    expect(progress.at(-1)).toBe(1);
    await w.advance(20);
    const n = await w.stop();
    writers.pop();

    expect(condition(v)).toEqual(original);
    expect((await ops.describe(v)).state).toBe('plain');
    expect(dm.listDevicesSync().some((x) => x.name === info.base.name)).toBe(false);
    expect(fs.existsSync(cow)).toBe(false);
    const log = fs.readFileSync(path.join(mnt, 'log'));
    expect(countRecords(log)).toBe(n);
    expect(log.subarray(0, atSwitch.length).equals(atSwitch)).toBe(true);
    umount(mounts.pop()!);
    const g = fsck(dm.nodePath(v));
    expect(g.status, g.output).toBe(0);
  });

  it('divert then discard: refused while mounted; after it V, remounted, is as at the switch', async () => {
    const { name: v } = await twoSegmentDevice('v', 64);
    const original = condition(v);
    const made = await ext4WithWriter(v, 20);
    let mnt = made.mnt;
    const w = made.w;
    const cow = cowFile('c2');
    const info = await ops.divert(v, { cow: { file: cow, size: '32M' } });
    const atSwitch = debugfsCat(info.base.path, '/log');
    await w.advance(30);
    await w.stop();
    writers.pop();

    const err = (await ops.discard(v).catch((e) => e)) as OperationError;
    expect(err).toBeInstanceOf(OperationError);
    expect(err.code).toBe('EBUSY');
    expect(err.step).toBe('inspect');
    expect((await ops.describe(v)).state).toBe('diverted');

    umount(mounts.pop()!);
    await ops.discard(v);
    expect(condition(v)).toEqual(original);
    expect(fs.existsSync(cow)).toBe(false);
    mnt = mount(dm.nodePath(v));
    mounts.push(mnt);
    expect(fs.readFileSync(path.join(mnt, 'log')).equals(atSwitch)).toBe(true);
  });

  it('a reader holding the base open across the switch sees the frozen image, not pages cached before it', async () => {
    const { name: v } = await twoSegmentDevice('pc', 8);
    const base = `${v}-dmbase`;
    const block = (tag: string): Buffer => Buffer.alloc(4096, tag);
    let held = -1;
    // Between the base going live and the switch (where udev would probe it): a reader caches the
    // base's first block and keeps the device open, then V overwrites that block, still before the switch.
    setFaultHook((p) => {
      if (p !== 'divert:load V') return;
      held = fs.openSync(dm.nodePath(base), 'r');
      fs.readSync(held, Buffer.alloc(4096), 0, 4096, 0);
      const fd = fs.openSync(dm.nodePath(v), 'r+');
      fs.writeSync(fd, block('n'), 0, 4096, 0);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    });
    try {
      await ops.divert(v, { cow: { file: cowFile('pc'), size: '8M' } });
      setFaultHook();
      const seen = Buffer.alloc(4096);
      fs.readSync(held, seen, 0, 4096, 0);
      expect(seen.equals(block('n'))).toBe(true);
    } finally {
      if (held >= 0) fs.closeSync(held);
    }
    await ops.discard(v);
  });

  it('a forced discard drops what a holder of V had cached from the writes it throws away', async () => {
    const { name: v } = await twoSegmentDevice('dc', 8);
    const block = (tag: string): Buffer => Buffer.alloc(4096, tag);
    const fd = fs.openSync(dm.nodePath(v), 'r+');
    try {
      fs.writeSync(fd, block('o'), 0, 4096, 0);
      fs.fsyncSync(fd);
      await ops.divert(v, { cow: { file: cowFile('dc'), size: '8M' } });
      fs.writeSync(fd, block('x'), 0, 4096, 0); // goes to the COW, and stays in V's page cache
      fs.fsyncSync(fd);
      await ops.discard(v, { force: true });
      const seen = Buffer.alloc(4096);
      fs.readSync(fd, seen, 0, 4096, 0);
      expect(seen.equals(block('o'))).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a block-device COW, and a merge started by another process is followed and finished by this one', async () => {
    const { name: v } = await twoSegmentDevice('v', 32);
    const original = condition(v);
    fillPattern(dm.nodePath(v), 'old', 16 * MiB);
    const c = await loop(24 * MiB);
    await ops.divert(v, { cow: c.path, chunkSectors: 16 });
    const d = await ops.describe(v);
    expect(d.cow!.owned).toBe(false);
    expect(d.chunkSectors).toBe(16);
    fillPattern(dm.nodePath(v), 'new', 12 * MiB);
    const sum = deviceSum(dm.nodePath(v));

    const child = spawnSync(path.join(__dirname, '../../node_modules/.bin/vite-node'), [path.join(__dirname, '../helpers/ops-child.ts'), 'merge', v], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout.trim().split('\n').at(-1)!).state).toBe('merging');

    const seen = await ops.describe(v);
    expect(seen.state).toBe('merging');
    const r = await ops.merge(v);
    expect(r.state).toBe('done');
    expect(condition(v)).toEqual(original);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    expect(fs.existsSync(c.path)).toBe(true); // a device the caller gave stays
  });

  it('merge can be waited for with an AbortSignal: aborting stops the wait, not the merge', async () => {
    const { name: v } = await twoSegmentDevice('v', 32);
    const original = condition(v);
    await ops.divert(v, { cow: { file: cowFile('c4'), size: '24M' } });
    fillPattern(dm.nodePath(v), 'new', 12 * MiB);
    const sum = deviceSum(dm.nodePath(v));
    const ac = new AbortController();
    ac.abort();
    // The lock is free, so the merge starts; the aborted signal ends only the wait for it.
    await expect(ops.merge(v, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect((await ops.describe(v)).state).toBe('merging');
    await ops.merge(v);
    expect(condition(v)).toEqual(original);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
  });
});
