// A consistent image of a live device as of one moment: a point-in-time snapshot (the filesystem
// frozen while it is taken), the snapshot copied to a file (sparse, or one gzip stream) or a block device and read
// back, then the snapshot removed. The device is switched only at the snapshot's start and end.
// A failure or an abort removes the snapshot and the partial file; a killed process leaves a
// record that `dmctl recover` (recoverBackups) acts on.
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../dm';
import * as loop from '../loop';
import * as ops from '../ops';
import { openDirect } from '../direct';
import { fileNameOf, stateDir } from '../records';
import { formatDevNum } from '../table';
import type { CompressKind } from './compress';
import { copyImage, type ChecksumKind, type CopyProgress } from './copy';
import { readBackupRecord, removeBackupRecord, writeBackupRecord, type BackupRecord } from './record';

/** Options of backup(). */
export interface BackupOptions extends ops.LockOptions {
  /** Where the image goes: a new file (it must not exist; written as `<to>.partial`, renamed when
   *  verified), or a block device, which gets every block. */
  to: string;
  /** The snapshot's COW store: a block device, or `{ file, size }`. Default: a file beside a file
   *  destination (`<to>.cow`), else in the state directory; 1/16 of the device (at least 16 MiB),
   *  grown as it fills, deleted at the end. */
  cow?: ops.CowSpec;
  /** The snapshot's chunk size in 512-byte sectors (default 128: 64 KiB). The kernel splits every
   *  read of a snapshot at its chunks: 64 KiB chunks read the image at about twice the speed of
   *  4 KiB ones, for a coarser copy-on-write while the backup runs. */
  chunkSectors?: number;
  /** On failure keep what was copied as `<to>.partial` (default: deleted). */
  keepPartial?: boolean;
  /** Read size in bytes (default 1 MiB). */
  blockSize?: number;
  /** crc32 (default where Node has zlib.crc32, 20.15+) or sha256 (what `sha256sum` prints). */
  checksum?: ChecksumKind;
  /** `'gzip'`: the file is the gzip stream of the image (what `gunzip -c` prints is the device as
   *  of the snapshot), written from its start, no holes, read back through gunzip; the checksum is
   *  still the image's, uncompressed. File destinations only: a block device is refused. */
  compress?: CompressKind;
  /** Stops the copy: the snapshot and the partial file go, the device stays on its own table. */
  signal?: AbortSignal;
  /** Called as the copy and then the read-back advance (at most every 200 ms, and at each end). */
  onProgress?: (p: CopyProgress) => void;
}

/** What backup() did. */
export interface BackupResult {
  device: string;
  to: string;
  kind: 'file' | 'device';
  /** The image's size: the device's. */
  bytes: bigint;
  bytesRead: bigint;
  /** Bytes written to the destination (compressed: the file's size). */
  bytesWritten: bigint;
  /** Bytes of zeros left as holes (file destinations; 0 when compressed). */
  holes: bigint;
  /** `crc32:<hex>` or `sha256:<hex>` of the image as read from the snapshot, equal to the
   *  destination's read back. */
  checksum: string;
  durationMs: number;
  /** The snapshot the copy read (removed). */
  snapshot: string;
  /** How often the COW store grew during the copy. */
  cowGrown: number;
}

const MiB = 1024n * 1024n;
const BACKUP_CHUNK_SECTORS = 128;

/** The snapshot a backup of `device` reads. */
export const backupSnapshotName = (device: string): string => `${device}-backup`;

interface Plan {
  size: bigint;
  kind: 'file' | 'device';
  partial?: string;
  cow: ops.CowSpec;
}

function deviceBytes(device: string): bigint {
  const i = dm.infoSync(device);
  return BigInt(fs.readFileSync(`/sys/dev/block/${formatDevNum(i)}/size`, 'utf8').trim()) * 512n;
}

async function plan(device: string, snap: string, o: BackupOptions): Promise<Plan> {
  if (!dm.infoOrNone(device)) throw ops.refusal(`no device named ${device}`, 'ENXIO');
  const r = readBackupRecord(device);
  if (r) throw ops.refusal(`a backup of ${device} by process ${r.pid} (started ${r.started}) did not finish: run 'dmctl recover' first`, 'EBUSY');
  if (dm.infoOrNone(snap)) throw ops.refusal(`a device named ${snap} already exists: another backup of ${device}?`, 'EEXIST');
  const size = deviceBytes(device);
  const st = fs.statSync(o.to, { throwIfNoEntry: false });
  let kind: Plan['kind'];
  let partial: string | undefined;
  if (st?.isBlockDevice()) {
    if (o.compress) throw ops.refusal(`destination ${o.to} is a block device: a compressed image goes to a new file`, 'EINVAL');
    kind = 'device';
    await ops.checkStoreDevice(o.to, { serves: device, minBytes: size, role: 'destination' });
  } else {
    if (st) throw ops.refusal(`destination ${o.to} exists: remove it or name a new file`, 'EEXIST');
    const dir = fs.statSync(path.dirname(o.to), { throwIfNoEntry: false });
    if (!dir?.isDirectory()) throw ops.refusal(`destination ${o.to}: ${path.dirname(o.to)} is not a directory`, 'ENOENT');
    await ops.checkStoreFile(o.to, { serves: device, role: 'destination' });
    kind = 'file';
    partial = `${o.to}.partial`;
    if (fs.existsSync(partial)) throw ops.refusal(`${partial} exists (a partial image an earlier backup kept?): remove it first`, 'EEXIST');
  }
  const cowSize = size / 16n > 16n * MiB ? size / 16n - ((size / 16n) % 512n) : 16n * MiB;
  const cowFile = kind === 'file' ? `${o.to}.cow` : path.join(stateDir(), 'backups', `${fileNameOf(device)}.cow`);
  if (o.cow === undefined && fs.existsSync(cowFile)) throw ops.refusal(`${cowFile} exists: remove it, or give a COW store`, 'EEXIST');
  return { size, kind, partial, cow: o.cow ?? { file: cowFile, size: cowSize } };
}

function checkOptions(o: BackupOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  if (typeof o.to !== 'string' || !o.to) throw new TypeError('to must be a file or block device path');
  if (o.keepPartial !== undefined && typeof o.keepPartial !== 'boolean') throw new TypeError('keepPartial must be a boolean');
  if (o.blockSize !== undefined && !(Number.isInteger(o.blockSize) && o.blockSize >= 4096 && o.blockSize % 4096 === 0 && o.blockSize <= 64 * 1024 * 1024)) {
    throw new RangeError('blockSize must be a multiple of 4096 between 4 KiB and 64 MiB');
  }
  if (o.checksum !== undefined && o.checksum !== 'crc32' && o.checksum !== 'sha256') throw new RangeError(`checksum must be 'crc32' or 'sha256', got ${String(o.checksum)}`);
  if (o.compress !== undefined && o.compress !== 'gzip') throw new RangeError(`compress must be 'gzip', got ${String(o.compress)}`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  ops.checkStore({ chunkSectors: o.chunkSectors });
  ops.checkLockOptions(o);
}

/**
 * Backs up a live device as of one moment to a file or a block device, verified by checksum.
 * @param device - The device to back up (mounted and written to, if need be).
 * @returns What was copied, and the image's checksum.
 * @throws OperationError: refused before anything changed (a destination that is the device, in its
 * stack, mounted, claimed or too small, or given `compress`; a file that exists), or failed and cleaned up.
 */
export async function backup(device: string, o: BackupOptions): Promise<BackupResult> {
  ops.checkOpsName(device);
  checkOptions(o);
  const snap = ops.checkOpsName(backupSnapshotName(device), 'snapshot name');
  const t0 = performance.now();
  // The snapshot's lock is held for the whole copy: recover knows a backup is alive by it.
  return ops.withLocks('backup', [snap], o, async () => {
    let p: Plan;
    try {
      p = await plan(device, snap, o);
    } catch (err) {
      throw new ops.OperationError({ operation: 'backup', step: 'check', cause: err, state: { asBefore: true, devices: [], notes: [] }, completed: [] });
    }
    const record: BackupRecord = { device, snapshot: snap, to: o.to, partial: p.partial, keepPartial: !!o.keepPartial, pid: process.pid, started: new Date().toISOString() };
    writeBackupRecord(record);
    try {
      await ops.createSnapshot(device, snap, { cow: p.cow, chunkSectors: o.chunkSectors ?? BACKUP_CHUNK_SECTORS, lockTimeoutMs: o.lockTimeoutMs, signal: o.signal });
    } catch (err) {
      removeBackupRecord(device); // createSnapshot rolled itself back
      throw err;
    }
    const r = await copyOut(device, snap, p, o);
    return { device, to: o.to, kind: p.kind, bytes: p.size, ...r.copy, durationMs: Math.round(performance.now() - t0), snapshot: snap, cowGrown: r.grown };
  });
}

/** The copy from the snapshot, then the snapshot removed and the file put in place; on any
 *  failure everything of the backup removed (but a partial file kept on request). */
async function copyOut(device: string, snap: string, p: Plan, o: BackupOptions) {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  let grown = 0;
  const watcher = ops.watchCow(snap, { grow: typeof p.cow === 'object', thresholds: [] });
  watcher.on('event', (e: ops.CowEvent) => {
    if (e.type === 'grown') grown++;
    if (e.type === 'invalid' || e.type === 'overflow' || e.type === 'cannot-grow') ac.abort(ops.refusal(`the snapshot's COW store ${e.type === 'cannot-grow' ? `cannot grow (${e.reason})` : 'filled up'}: writes to ${device} during the copy need a larger one`, 'ENOSPC'));
  });
  const completed = ['check', 'snapshot'];
  let step = 'copy';
  const fds: number[] = [];
  const track = <T extends number | undefined>(fd: T): T => {
    if (fd !== undefined) fds.push(fd);
    return fd;
  };
  try {
    const src = { fd: track(fs.openSync(dm.nodePath(snap), 'r')), direct: track(openDirect(dm.nodePath(snap), fs.constants.O_RDONLY)) };
    const dstPath = p.partial ?? o.to;
    // The device is claimed (O_EXCL) by the first descriptor; the direct one shares the claim.
    const dstFd = track(p.kind === 'file' ? fs.openSync(dstPath, 'wx+', 0o600) : fs.openSync(dstPath, fs.constants.O_RDWR | fs.constants.O_EXCL));
    const dst = { fd: dstFd, direct: track(openDirect(dstPath, fs.constants.O_RDWR)) };
    const copy = await copyImage(src, dst, {
      size: p.size, sparse: p.kind === 'file', compress: o.compress, blockSize: o.blockSize, checksum: o.checksum, signal: ac.signal, onProgress: o.onProgress,
      beforeVerify: async (fd) => {
        fs.fsyncSync(fd);
        if (p.kind === 'device') await loop.flushBuffers(o.to);
      },
    });
    while (fds.length) fs.closeSync(fds.pop()!);
    completed.push('copy');
    step = 'remove snapshot';
    watcher.stop();
    await watcher.done;
    await ops.removeSnapshot(snap);
    completed.push(step);
    if (p.partial) {
      step = 'rename';
      fs.renameSync(p.partial, o.to);
      const d = fs.openSync(path.dirname(o.to), 'r');
      fs.fsyncSync(d);
      fs.closeSync(d);
    }
    removeBackupRecord(device);
    return { copy, grown };
  } catch (err) {
    for (const fd of fds) fs.closeSync(fd);
    watcher.stop();
    await watcher.done;
    const notes = await undo(device, snap, p, o, step);
    throw new ops.OperationError({ operation: 'backup', step, cause: ac.signal.aborted && !o.signal?.aborted ? ac.signal.reason : err, state: { asBefore: notes.length === 0, devices: [], notes }, completed });
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/** Removes what a failed backup made; returns what is left, in words (empty: nothing). The record
 *  stays while the snapshot does: recover removes it later. */
async function undo(device: string, snap: string, p: Plan, o: BackupOptions, step: string): Promise<string[]> {
  const notes: string[] = [];
  if (dm.infoOrNone(snap)) {
    try {
      await ops.removeSnapshot(snap);
    } catch (e) {
      notes.push(`the snapshot ${snap} is still there (${(e as Error).message}): run 'dmctl recover'`);
    }
  }
  if (p.partial && step !== 'rename' && fs.existsSync(p.partial)) {
    if (o.keepPartial) notes.push(`the partial image is kept as ${p.partial}`);
    else fs.rmSync(p.partial, { force: true });
  }
  if (dm.infoOrNone(snap) === undefined) removeBackupRecord(device);
  return notes;
}
