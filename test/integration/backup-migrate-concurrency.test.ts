// Backup and migration of one device from two processes at once, on the real kernel. A backup
// holds its snapshot's lock (NAME-backup) for its whole copy, and NAME is the snapshot's origin
// meanwhile; a migration holds NAME's lock only to start and to finish, and NAME is linear over
// its mirror while the kernel copies. What follows, and what these tests assert:
//   (a) a second backup of NAME waits for the first's lock and gives up past --lock-timeout
//       (exit 5, one line naming the first), leaving nothing of its own; the first's image is good;
//   (b) a migration started during a backup is refused: NAME is the origin of NAME-backup (exit 10),
//       nothing changed; the backup's image is good, and the migration works once it is done;
//   (c) a backup started during a migration is refused: snapshots need a plain device or an
//       origin (exit 10), leaving no snapshot, COW, image or record; (d) so is a divert; the
//       migration goes on untouched and finishes.
// The backup (a child running the built library) stands still in the middle of its copy, its
// snapshot made and its lock held, until the second process has met it: the outcome is the
// design's, not the scheduler's (test/helpers/locked-child.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { readMigrationRecord } from '../../src/ops/migrate-record';
import { nothingLeft } from '../helpers/backup';
import { useTestDevices } from '../helpers/devices';
import { useLockedChildren, type ChildResult } from '../helpers/locked-child';
import { testDir } from '../helpers/loop';
import { condition, debugfsCat, fsck, holders, migrationLeftovers, MiB, umount } from '../helpers/ops';
import { beforeCleanup, useStateDir } from '../helpers/recover';
import { dmctl, errorLineOf, okJson } from './cli-helpers';

useStateDir();
const { first, killAll } = useLockedChildren();
const { loop, mounts, ext4WithData, twoSegmentDevice, slowDisk } = useTestDevices({
  beforeCleanup: async () => {
    killAll(); // a backup still held (a test failed early) must not hold its lock past its test
    await beforeCleanup();
  },
});

const image = (tag: string): string => path.join(testDir(), `${tag}.img`);
const devNum = (name: string): string => `${dm.infoSync(name).major}:${dm.infoSync(name).minor}`;

/** The held backup, let go, finished well: its image is a clean ext4 with `data` and without what
 *  was written after its snapshot, and its checksum is the file's CRC-32. */
async function goodImage(r: ChildResult, img: string, data: Buffer): Promise<void> {
  expect(r.ok, r.error?.message).toBe(true);
  expect(r.result.checksum).toBe(`crc32:${zlib.crc32(fs.readFileSync(img)).toString(16).padStart(8, '0')}`);
  const f = fsck(img);
  expect(f.status, f.output).toBe(0);
  expect(debugfsCat(img, '/data.bin').equals(data)).toBe(true);
  const ls = spawnSync('debugfs', ['-R', 'ls /', img], { encoding: 'utf8' }).stdout;
  expect(ls).toMatch('data.bin');
  expect(ls).not.toMatch('after.bin');
}

/** Starts a backup of `v` to `img` in a child and holds it once its copy has begun; then writes
 *  `after.bin` to the mounted filesystem (after the snapshot: not in the image). */
async function heldBackup(v: string, img: string, mnt: string) {
  const a = first('backup', [v], { to: img, blockSize: 65536 }, 'copy');
  await a.holding;
  expect(dm.infoOrNone(`${v}-backup`)).toBeDefined();
  expect(fs.existsSync(`${img}.partial`)).toBe(true);
  expect((await ops.describe(v)).state).toBe('origin');
  fs.writeFileSync(path.join(mnt, 'after.bin'), 'written after the snapshot');
  spawnSync('sync', ['-f', path.join(mnt, 'after.bin')]);
  return a;
}

describe('backup and migration from two processes at once', () => {
  it('(a) two backups of one device: the second waits for the first\'s lock, gives up (exit 5, one line) and leaves nothing of its own; the first\'s image is good', async () => {
    const { name: v } = await twoSegmentDevice('a', 32);
    const { mnt, data } = ext4WithData(v);
    const was = condition(v);
    const [img1, img2] = [image('a1'), image('a2')];
    const a = await heldBackup(v, img1, mnt);
    const during = condition(v);
    // The default --lock-timeout (10 s): the first stands still for longer.
    const b = await dmctl(['backup', v, '--to', img2]);
    expect(b.code, b.stderr).toBe(5);
    expect(errorLineOf(b)).toMatch(new RegExp(`^dmctl: ${v}-backup is locked by backup of process ${a.pid} \\(since .*\\); backup gave up after \\d+ ms; nothing was changed$`));
    for (const f of [img2, `${img2}.partial`, `${img2}.cow`]) expect(fs.existsSync(f), f).toBe(false);
    expect(condition(v)).toEqual(during); // the first's snapshot, untouched
    expect(fs.existsSync(`${img1}.partial`)).toBe(true);
    a.go();
    await goodImage(await a.done, img1, data);
    umount(mnt);
    mounts.pop();
    await nothingLeft(v, img1, was);
  }, 300_000);

  it('(b) a migration started while a backup copies is refused, the device being the snapshot\'s origin (exit 10), changing nothing; the image is good; then it migrates', async () => {
    const { name: v } = await twoSegmentDevice('b', 32);
    const { mnt, data } = ext4WithData(v);
    const was = condition(v);
    const img = image('b');
    const dest = await loop(40 * MiB);
    const a = await heldBackup(v, img, mnt);
    const during = condition(v);
    expect(during.table).toMatch(/ snapshot-origin /);
    const m = await dmctl(['migrate', v, '--to', dest.path]);
    expect(m.code, m.stderr).toBe(10);
    expect(errorLineOf(m)).toMatch(`${v} is origin of ${v}-backup, not plain: it cannot be migrated while they exist`);
    expect(condition(v)).toEqual(during);
    expect(migrationLeftovers(v)).toEqual([]);
    expect(readMigrationRecord(v)).toBeUndefined();
    expect(holders(dest.path)).toEqual([]);
    a.go();
    await goodImage(await a.done, img, data);
    await nothingLeft(v, img, was);
    // The backup done, the same migration goes through.
    expect(await okJson(['migrate', v, '--to', dest.path, '-q'])).toMatchObject({ name: v, state: 'done', to: `${dest.major}:${dest.minor}` });
    umount(mnt);
    mounts.pop();
    expect(fsck(dm.nodePath(v)).status).toBe(0);
    expect(debugfsCat(dm.nodePath(v), '/data.bin').equals(data)).toBe(true);
  }, 300_000);

  it('(c, d) while a migration copies, a backup and a divert from another process are refused (exit 10), leaving nothing; the migration then finishes', async () => {
    const { name: v } = await twoSegmentDevice('c', 32);
    const { mnt, data } = ext4WithData(v);
    const dest = await slowDisk(32, 200); // the kernel copies for many seconds
    expect(await ops.migrate(v, { to: dest.path, wait: false })).toMatchObject({ state: 'migrating' });
    const during = condition(v);
    const img = image('c');
    const b = await dmctl(['backup', v, '--to', img]);
    expect(b.code, b.stderr).toBe(10);
    expect(errorLineOf(b)).toMatch(`${v} is migrating: snapshots need a plain device or an origin`);
    expect(fs.existsSync(img)).toBe(false);
    await nothingLeft(v, img, during, 'migrating');

    const cow = path.join(testDir(), 'c.cow');
    const d = await dmctl(['divert', v, '--cow', cow, '--size', '8M']);
    expect(d.code, d.stderr).toBe(10);
    expect(errorLineOf(d)).toMatch(`${v} is migrating, not plain: it cannot be diverted`);
    expect(fs.existsSync(cow)).toBe(false);
    expect(dm.infoOrNone(ops.baseName(v))).toBeUndefined();
    expect(condition(v)).toEqual(during);
    expect(readMigrationRecord(v)).toMatchObject({ state: 'copying' });

    expect(await ops.migrate(v)).toMatchObject({ name: v, state: 'done', to: devNum(dest.name) });
    expect(dm.tableSync(v)).toEqual([{ start: 0n, length: BigInt(32 * 2048), type: 'linear', params: `${devNum(dest.name)} 0` }]);
    expect(migrationLeftovers(v)).toEqual([]);
    umount(mnt);
    mounts.pop();
    expect(fsck(dm.nodePath(v)).status).toBe(0);
    expect(debugfsCat(dm.nodePath(v), '/data.bin').equals(data)).toBe(true);
  }, 300_000);
});
