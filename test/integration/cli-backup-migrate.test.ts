// dmctl backup and dmctl migrate as a user runs them, on the real kernel. backup --json prints one
// document whose bytes, holes, duration and checksum agree with the image on disk (CRC-32 as
// zlib.crc32 computes it, sha256 as sha256sum prints it); a refused destination exits with the
// documented code and one line, changing nothing; --compress gzip writes a gzip stream that
// decompresses to a clean image, checksummed uncompressed. migrate --no-wait returns while the kernel
// copies, `dmctl migrate NAME` follows and finishes it (one linear over the new disk), --abort and
// Ctrl-C while following put NAME back on its old disk, saying so in one line (Ctrl-C: exit 130).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../src/backup';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { nothingLeft } from '../helpers/backup';
import { useTestDevices } from '../helpers/devices';
import { testDir } from '../helpers/loop';
import { condition, debugfsCat, deviceSum, fillPattern, fsck, holders, migrationLeftovers, MiB, umount } from '../helpers/ops';
import { beforeCleanup, useStateDir } from '../helpers/recover';
import { assertBuilt, dmctl, dmctlBackground, errorLineOf, ok, okJson, untilOutput } from './cli-helpers';

useStateDir();
const { loop, mounts, ext4WithData, twoSegmentDevice, slowDisk } = useTestDevices({ beforeCleanup });
beforeAll(assertBuilt);

const crc32 = (file: string): string => `crc32:${zlib.crc32(fs.readFileSync(file)).toString(16).padStart(8, '0')}`;
const devNum = (name: string): string => `${dm.infoSync(name).major}:${dm.infoSync(name).minor}`;
describe('dmctl backup', () => {
  it('--json prints one document; bytes read and written, holes, duration and checksum agree with the image (crc32 by default, --checksum sha256 as sha256sum)', async () => {
    const { name: v } = await twoSegmentDevice('b1', 32);
    fillPattern(dm.nodePath(v), 'data', 4 * MiB); // the rest of the fresh disk reads zeros
    const was = condition(v);
    const img = path.join(testDir(), 'b1.img');
    const r = await dmctl(['--json', 'backup', v, '--to', img]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout); // one document: a second one would not parse
    expect(j).toEqual({
      device: v, to: img, kind: 'file', bytes: 32 * MiB, bytesRead: 32 * MiB, bytesWritten: 4 * MiB, holes: 28 * MiB,
      checksum: expect.stringMatching(/^crc32:[0-9a-f]{8}$/), durationMs: expect.any(Number), snapshot: `${v}-backup`, cowGrown: 0,
    });
    expect(j.bytesWritten + j.holes).toBe(j.bytes);
    expect(j.durationMs).toBeGreaterThan(0);
    expect(j.durationMs).toBeLessThan(600_000);
    expect(fs.statSync(img).size).toBe(32 * MiB);
    expect(fs.statSync(img).blocks * 512).toBeGreaterThanOrEqual(4 * MiB); // sparse: the holes take no room
    expect(fs.statSync(img).blocks * 512).toBeLessThan(5 * MiB);
    expect(j.checksum).toBe(crc32(img));
    expect(fs.readFileSync(img).equals(fs.readFileSync(dm.nodePath(v)))).toBe(true);
    await nothingLeft(v, img, was);

    const img2 = path.join(testDir(), 'b1-sha.img');
    const s = await okJson(['backup', v, '--to', img2, '--checksum', 'sha256', '-q']);
    expect(s).toMatchObject({ bytesRead: 32 * MiB, bytesWritten: 4 * MiB, holes: 28 * MiB });
    expect(s.checksum).toBe(`sha256:${execFileSync('sha256sum', [img2], { encoding: 'utf8' }).split(' ')[0]}`);
    expect(crc32(img2)).toBe(j.checksum); // the same data, the same image
    await nothingLeft(v, img2, was);
  }, 300_000);

  it('a refused destination (the device itself: exit 5; an existing file: exit 10) prints one line and nothing on stdout, and changes nothing', async () => {
    const { name: v } = await twoSegmentDevice('b2', 16);
    const was = condition(v);
    const existing = path.join(testDir(), 'b2-existing.img');
    fs.writeFileSync(existing, 'keep me');
    const cases: Array<[string, number, RegExp]> = [
      [dm.nodePath(v), 5, /destination .*/],
      [existing, 10, /destination .* exists: remove it or name a new file/],
    ];
    for (const [to, code, why] of cases) {
      const r = await dmctl(['--json', 'backup', v, '--to', to]);
      expect(r.code, `${to}: ${r.stderr}`).toBe(code);
      expect(errorLineOf(r)).toMatch(why);
      expect(r.stdout).toBe('');
      await nothingLeft(v, to, was);
    }
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
  }, 300_000);

  it('--compress gzip: FILE is a gzip stream of a clean image of the mounted ext4 holding its data, the checksum the uncompressed image\'s; a block device with --compress is refused (exit 2, one line), changing nothing', async () => {
    const { name: v } = await twoSegmentDevice('b3', 32);
    const { data } = ext4WithData(v); // stays mounted
    const was = condition(v);
    const img = path.join(testDir(), 'b3.img.gz');
    const j = await okJson(['backup', v, '--to', img, '--compress', 'gzip', '-q']);
    expect(j).toEqual({
      device: v, to: img, kind: 'file', bytes: 32 * MiB, bytesRead: 32 * MiB, bytesWritten: fs.statSync(img).size, holes: 0,
      checksum: expect.stringMatching(/^crc32:[0-9a-f]{8}$/), durationMs: expect.any(Number), snapshot: `${v}-backup`, cowGrown: 0,
    });
    expect(j.bytesWritten).toBeGreaterThan(2 * MiB); // the random data.bin does not shrink
    expect(j.bytesWritten).toBeLessThan(3 * MiB); // the zeros and ext4's metadata do
    expect(spawnSync('gzip', ['-t', img]).status).toBe(0);
    const raw = path.join(testDir(), 'b3.img');
    execFileSync('sh', ['-c', 'gunzip -c "$1" > "$2"', 'sh', img, raw]);
    expect(fs.statSync(raw).size).toBe(32 * MiB);
    expect(crc32(raw)).toBe(j.checksum);
    expect(fsck(raw).status).toBe(0);
    expect(debugfsCat(raw, '/data.bin').equals(data)).toBe(true);
    await nothingLeft(v, img, was);

    const dest = await loop(32 * MiB);
    const r = await dmctl(['--json', 'backup', v, '--to', dest.path, '--compress', 'gzip']);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLineOf(r)).toBe(`dmctl: --compress needs a file: --to ${dest.path} is a block device`);
    expect(r.stdout).toBe('');
    await nothingLeft(v, dest.path, was);
    // The library refuses it too, at its check.
    await expect(backup(v, { to: dest.path, compress: 'gzip' })).rejects.toMatchObject({ step: 'check', state: { asBefore: true }, cause: { message: `destination ${dest.path} is a block device: a compressed image goes to a new file` } });
    await nothingLeft(v, dest.path, was);
  }, 300_000);
});

describe('dmctl migrate', () => {
  it('--no-wait --json returns while the kernel copies; `dmctl migrate NAME --json` follows and finishes it: one linear over the new disk', async () => {
    const { name: v, loop: old } = await twoSegmentDevice('m1', 32);
    const { mnt, data } = ext4WithData(v);
    // Every write to it waits 200 ms: the kernel copies for many seconds.
    const dest = await slowDisk(32, 200);
    const to = devNum(dest.name);
    const started = await okJson(['migrate', v, '--to', dest.path, '--no-wait']);
    expect(started).toEqual({ name: v, state: 'migrating', to, freezeMs: [expect.any(Number)] });
    const d = await ops.describe(v);
    expect(d.state).toBe('migrating');
    expect(d.migration!.inSyncRegions).toBeLessThan(d.migration!.totalRegions); // returned while it copies
    expect(holders(dest.path)).toHaveLength(1); // the mirror

    const done = await okJson(['migrate', v, '-q']);
    expect(done).toEqual({ name: v, state: 'done', to, freezeMs: [expect.any(Number)] });
    expect(dm.tableSync(v)).toEqual([{ start: 0n, length: BigInt(32 * 2048), type: 'linear', params: `${to} 0` }]);
    expect(migrationLeftovers(v)).toEqual([]);
    expect(holders(old.path)).toEqual([]);
    expect((await ops.describe(v)).state).toBe('plain');
    umount(mnt);
    mounts.pop();
    expect(fsck(dm.nodePath(v)).status).toBe(0);
    expect(debugfsCat(dm.nodePath(v), '/data.bin').equals(data)).toBe(true);
    expect(deviceSum(dest.path)).toBe(deviceSum(dm.nodePath(v)));
    // Nothing is left to follow.
    const again = await dmctl(['migrate', v]);
    expect(again.code).toBe(10);
    expect(errorLineOf(again)).toMatch(/is plain: give a destination/);
  }, 300_000);

  it('--abort puts NAME back on its old disk with every write; Ctrl-C while following says where it stays in one line and exits 130', async () => {
    const { name: v, loop: old } = await twoSegmentDevice('m2', 32);
    fillPattern(dm.nodePath(v), 'before', 4 * MiB);
    const was = condition(v);
    const dest = await slowDisk(32, 200);
    const oldDisk = `${old.major}:${old.minor}`;

    await ok(['migrate', v, '--to', dest.path, '--no-wait']);
    fillPattern(dm.nodePath(v), 'during', 2 * MiB); // through the mirror, while it copies
    const written = deviceSum(dm.nodePath(v));
    const a = await okJson(['migrate', v, '--abort']);
    expect(a).toEqual({ name: v, state: 'aborted', freezeMs: [expect.any(Number)] });
    expect(condition(v)).toEqual(was);
    expect(deviceSum(dm.nodePath(v))).toBe(written);
    expect(migrationLeftovers(v)).toEqual([]);
    expect(dm.infoSync(dest.name).openCount).toBe(0);

    // The same through a follower interrupted with Ctrl-C (SIGINT).
    await ok(['migrate', v, '--to', dest.path, '--no-wait']);
    fillPattern(dm.nodePath(v), 'follow', 2 * MiB);
    const written2 = deviceSum(dm.nodePath(v));
    const f = dmctlBackground(['migrate', v], { DMCTL_PROGRESS_MS: '1' });
    await untilOutput(f, /migrate: /, 120_000);
    expect((await ops.describe(v)).state).toBe('migrating');
    f.child.kill('SIGINT');
    const r = await f.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe(`dmctl: ${v}: migration cancelled; ${v} stays on its old disk ${oldDisk}, every write kept; the new disk is no longer used`);
    expect(lines.filter((l) => l.includes('stays on'))).toHaveLength(1);
    expect(condition(v)).toEqual(was);
    expect(deviceSum(dm.nodePath(v))).toBe(written2);
    expect(migrationLeftovers(v)).toEqual([]);
    expect(dm.infoSync(dest.name).openCount).toBe(0);

    // Without --json, --abort says the same.
    await ok(['migrate', v, '--to', dest.path, '--no-wait']);
    expect((await ok(['migrate', v, '--abort'])).trim()).toBe(`${v}: migration aborted; ${v} stays on its old disk ${oldDisk}, every write kept; the new disk is no longer used`);
    expect(condition(v)).toEqual(was);
  }, 300_000);
});
