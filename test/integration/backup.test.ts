// Backup of a live, mounted, written device on the real kernel: the image is one point in time,
// clean, mountable and sparse; a block device gets every block; bad destinations are refused
// changing nothing; Ctrl-C and SIGKILL (then dmctl recover) leave nothing behind.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { backup } from '../../src/backup';
import * as ops from '../../src/ops';
import { testName } from '../helpers/dm';
import { useTestDevices } from '../helpers/devices';
import { testDir } from '../helpers/loop';
import { condition, countRecords, debugfsCat, deviceSum, fillPattern, fsck, MiB, mkfs, mount, RECORD, umount } from '../helpers/ops';
import { beforeCleanup, useStateDir } from '../helpers/recover';
import { nothingLeft } from '../helpers/backup';
import { assertBuilt, DMCTL, dmctl, okJson } from './cli-helpers';

useStateDir();
const { loop: makeLoop, mounts, ext4WithWriter, finishWriter, twoSegmentDevice } = useTestDevices({ beforeCleanup });
let n = 0;
const image = (): string => path.join(testDir(), `backup-${++n}.img`);
/** The error a call that must fail threw. */
const failure = (p: Promise<unknown>): Promise<ops.OperationError> => p.then(() => { throw new Error('it did not fail'); }, (e: unknown) => e as ops.OperationError);
const sha = (file: string): string => `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;

/** dmctl backup in a child; resolves once it has copied `mib` MiB (its plain progress lines). */
async function backupChild(v: string, img: string, mib: number) {
  const child = spawn(process.execPath, [DMCTL, 'backup', v, '--to', img, '--block-size', '65536'], { env: { ...process.env, DMCTL_PROGRESS_MS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const copied = (): number => Math.max(0, ...[...err.matchAll(/backup: [\d.]+% \(([\d.]+)M(?:iB)? of/g)].map((m) => Number(m[1])));
  for (const end = Date.now() + 120_000; copied() < mib; await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`dmctl backup never copied ${mib} MiB: ${err}`);
  }
  return { child, exited, stderr: () => err };
}

describe('backup', () => {
  it('a mounted ext4 being written: the image is one point in time, clean, mountable and sparse; nothing is left', async () => {
    const { name: v } = await twoSegmentDevice('v', 96);
    const { mnt, w } = await ext4WithWriter(v, 30);
    const data = crypto.randomBytes(3 * MiB);
    fs.writeFileSync(path.join(mnt, 'data.bin'), data);
    const sync = fs.openSync(path.join(mnt, 'data.bin'), 'r');
    fs.fsyncSync(sync);
    fs.closeSync(sync);
    const was = condition(v);
    const img = image();
    const before = w.synced;
    const r = await backup(v, { to: img, checksum: 'sha256' });
    const after = w.synced;
    expect(after).toBeGreaterThan(before); // the writer went on during the copy

    expect(r).toMatchObject({ device: v, to: img, kind: 'file', bytes: BigInt(96 * MiB), bytesRead: BigInt(96 * MiB) });
    expect(r.bytesWritten + r.holes).toBe(BigInt(96 * MiB));
    expect(fs.statSync(img).size).toBe(96 * MiB);
    // What was written, plus the blocks ext4 itself needs to map it (extent tree).
    expect(fs.statSync(img).blocks * 512).toBeGreaterThanOrEqual(Number(r.bytesWritten));
    expect(fs.statSync(img).blocks * 512).toBeLessThan(Number(r.bytesWritten) + MiB);
    expect(r.bytesWritten).toBeLessThan(BigInt(24 * MiB));
    expect(sha(img)).toBe(r.checksum);
    expect(fsck(img).status).toBe(0);
    // One point in time: every record synced before the backup, none torn, no gap.
    const records = countRecords(debugfsCat(img, '/log'));
    expect(records).toBeGreaterThanOrEqual(before);
    expect(records).toBeLessThanOrEqual(after);
    const ro = mount(img, { readOnly: true });
    expect(fs.readFileSync(path.join(ro, 'data.bin')).equals(data)).toBe(true);
    expect(fs.statSync(path.join(ro, 'log')).size).toBe(records * RECORD);
    umount(ro);
    await nothingLeft(v, img, was);
    await finishWriter(w, mnt, v);
    mounts.pop();
  }, 300_000);

  it('a block device gets every block; the device itself, its stack, a small, mounted or existing destination are refused, changing nothing', async () => {
    const { name: v, loop: under } = await twoSegmentDevice('v', 16);
    const was = condition(v);
    const dest = await makeLoop(20 * MiB);
    const r = await backup(v, { to: dest.path, checksum: 'sha256' });
    expect(r).toMatchObject({ kind: 'device', bytesWritten: BigInt(16 * MiB), holes: 0n });
    const head = Buffer.alloc(16 * MiB);
    const fd = fs.openSync(dest.path, 'r');
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    expect(`sha256:${crypto.createHash('sha256').update(head).digest('hex')}`).toBe(r.checksum);
    expect(`sha256:${deviceSum(dm.nodePath(v))}`).toBe(r.checksum);

    const small = await makeLoop(8 * MiB);
    const mountedDisk = await makeLoop(16 * MiB);
    mkfs(mountedDisk.path);
    mounts.push(mount(mountedDisk.path));
    const existing = image();
    fs.writeFileSync(existing, 'keep me');
    const cases: Array<[string, RegExp]> = [
      [dm.nodePath(v), /destination .* (is|sits on|which is)/],
      [under.path, /destination .* is under|destination .*in its stack|sits under|is under/],
      [small.path, /is too small: 8388608 bytes, at least 16777216 needed/],
      [mountedDisk.path, /is mounted on/],
      [existing, /destination .* exists: remove it or name a new file/],
      [path.join(testDir(), 'no-such-dir', 'x.img'), /is not a directory/],
    ];
    for (const [to, why] of cases) {
      const err = await failure(backup(v, { to }));
      expect(err, to).toBeInstanceOf(ops.OperationError);
      expect((err as ops.OperationError).step, to).toBe('check');
      expect((err as Error).message, to).toMatch(why);
      expect(condition(v)).toEqual(was);
      expect(dm.infoOrNone(`${v}-backup`)).toBeUndefined();
    }
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
    const cli = await dmctl(['backup', v, '--to', under.path]);
    expect(cli.code).toBe(5);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
  }, 300_000);

  it('a destination that does not keep what it was given, or fills up: the copy fails, the device stays as it was, nothing is left', async () => {
    const { name: v } = await twoSegmentDevice('v', 16);
    fillPattern(dm.nodePath(v), 'dense', 16 * MiB);
    const was = condition(v);
    // dm-flakey, always "down", changes byte 1 of every write: what lands differs from what was read.
    const disk = await makeLoop(16 * MiB);
    const bad = testName('corrupting');
    await dm.create(bad);
    try {
      await dm.loadRawTable(bad, [{ start: 0, length: 16 * 2048, type: 'flakey', params: `${disk.path} 0 0 1 5 corrupt_bio_byte 1 w 7 0` }]);
      await dm.resume(bad);
      const err = await failure(backup(v, { to: dm.nodePath(bad) }));
      expect(err).toBeInstanceOf(ops.OperationError);
      expect(err.step).toBe('copy');
      expect(err.code).toBe('EIO');
      expect(err.message).toMatch(/the destination does not hold what was read: crc32:[0-9a-f]{8} read, crc32:[0-9a-f]{8} read back/);
      expect(err.state.asBefore).toBe(true);
      await nothingLeft(v, image(), was);
    } finally {
      await dm.remove(bad);
    }
    // A filesystem with room for half the image: ENOSPC, and the partial image is deleted.
    const small = await makeLoop(10 * MiB);
    mkfs(small.path);
    const mnt = mount(small.path);
    mounts.push(mnt);
    const img = path.join(mnt, 'full.img');
    const full = await failure(backup(v, { to: img, cow: { file: path.join(testDir(), `full-${n}.cow`), size: 16 * MiB } }));
    expect(full.step).toBe('copy');
    expect(full.code).toBe('ENOSPC');
    expect(fs.readdirSync(mnt).filter((f) => f !== 'lost+found')).toEqual([]);
    await nothingLeft(v, img, was);
  }, 300_000);

  it('aborted in the middle (a signal, and Ctrl-C of dmctl backup): nothing is left; --keep-partial keeps <file>.partial', async () => {
    assertBuilt();
    const { name: v } = await twoSegmentDevice('v', 64);
    const was = condition(v);
    const ac = new AbortController();
    const img = image();
    const err = await failure(backup(v, { to: img, blockSize: 65536, signal: ac.signal, onProgress: (p) => p.done >= BigInt(8 * MiB) && ac.abort() }));
    expect(err).toBeInstanceOf(ops.OperationError);
    expect(err.step).toBe('copy');
    expect(err.state.asBefore).toBe(true);
    expect(fs.existsSync(img)).toBe(false);
    await nothingLeft(v, img, was);

    const img2 = image();
    const run = await backupChild(v, img2, 4);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toMatch(/backup of .* stopped: its snapshot and partial image are removed/);
    expect(fs.existsSync(img2)).toBe(false);
    await nothingLeft(v, img2, was);

    const img3 = image();
    const ac3 = new AbortController();
    const kept = await failure(backup(v, { to: img3, keepPartial: true, blockSize: 65536, signal: ac3.signal, onProgress: (p) => p.done >= BigInt(4 * MiB) && ac3.abort() }));
    expect(kept.state.notes).toEqual([`the partial image is kept as ${img3}.partial`]);
    expect(fs.existsSync(`${img3}.partial`)).toBe(true);
    fs.rmSync(`${img3}.partial`);
    await nothingLeft(v, img3, was);
  }, 300_000);

  it('SIGKILL in the middle: dmctl recover removes the snapshot, its COW and the partial image; a second recover changes nothing', async () => {
    assertBuilt();
    const { name: v } = await twoSegmentDevice('v', 64);
    const was = condition(v);
    const img = image();
    const run = await backupChild(v, img, 4);
    run.child.kill('SIGKILL');
    await run.exited;
    expect(dm.infoOrNone(`${v}-backup`)).toBeDefined();
    expect(fs.existsSync(`${img}.partial`)).toBe(true);
    // A second backup is refused until recover has run.
    expect((await failure(backup(v, { to: image() }))).message).toMatch(/did not finish: run 'dmctl recover' first/);
    const reports = await okJson<ops.RecoverReport[]>(['recover']);
    expect(reports.filter((r) => r.device === v).at(-1)).toMatchObject({ state: 'plain', did: [`removed its snapshot ${v}-backup`, `deleted the partial image ${img}.partial`] });
    await nothingLeft(v, img, was);
    expect((await okJson<ops.RecoverReport[]>(['recover'])).filter((r) => r.device === v)).toEqual([]);
  }, 300_000);
});
