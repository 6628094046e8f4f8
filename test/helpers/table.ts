// Helpers for the typed-table integration tests: devices built from typed tables, the kernel's
// table and status text, and dmsetup's view of the same device.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import * as dm from '../../src/dm';
import { formatTable, parseTable, type Table, type Target } from '../../src/table';
import { loadTable, type TableLoadOptions } from '../../src/table/kernel';
import { testName } from './dm';

export const MiB = 1024 * 1024;
export const DMSETUP = '/usr/sbin/dmsetup';

/** "start length type params\n" per line: what `dmsetup table` prints for these lines. */
export function linesText(lines: readonly dm.TargetLine[]): string {
  return lines.map((l) => `${l.start} ${l.length} ${l.type} ${l.params}\n`).join('');
}

/** The device's table text straight from TABLE_STATUS (secure: a crypt table carries its key). */
export async function kernelTableText(name: string, o: { inactive?: boolean } = {}): Promise<string> {
  return linesText(await dm.table(name, { ...o, secure: true }));
}

export async function kernelStatusText(name: string): Promise<string> {
  return linesText(await dm.status(name));
}

export function dmsetup(...args: string[]): string {
  return execFileSync(DMSETUP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** What a table looks like once the kernel has it: devices spelled "M:m" (paths stat'ed). */
export function canonical(table: Table): Target[] {
  return parseTable(formatTable(table));
}

/** The kernel log's last lines: why a target's constructor said EINVAL. */
export function dmesgTail(lines = 8): string {
  try {
    return execFileSync('dmesg', { encoding: 'utf8' }).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no dmesg)';
  }
}

/** create + typed loadTable + resume, under a test name; a kernel refusal carries dmesg's reason. */
export async function makeDevice(tag: string, table: Table, o: TableLoadOptions = {}): Promise<string> {
  const name = testName(tag);
  await dm.create(name);
  try {
    await loadTable(name, table, o);
  } catch (e) {
    if (e instanceof Error && (e as { code?: string }).code) e.message += `\ndmesg:\n${dmesgTail()}`;
    throw e;
  }
  await dm.resume(name);
  return name;
}

export function devNum(x: { major: number; minor: number }): string {
  return `${x.major}:${x.minor}`;
}

/** Writes `buf` at byte `offset` of a block device and flushes it to the device. */
export function writeAt(file: string, offset: number, buf: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, buf, 0, buf.length, offset);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads what the device holds now: dirty data is flushed by writeAt, clean cached pages are dropped first. */
export function readFresh(file: string, offset: number, length: number): Buffer {
  fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
  return readAt(file, offset, length);
}

/**
 * A dm-verity hash tree (format version 1, as veritysetup --no-superblock makes it) for `data`:
 * every block hashed as H(salt || block), digests packed into hash blocks level by level, the
 * top level first on the hash device (hash start 0), and the root digest H(salt || top block).
 * Follows verity.rst "Hash tree" and verity_ctr's level layout.
 */
export function verityTree(data: Buffer, o: { blockSize?: number; salt: Buffer; algorithm?: string }): { hash: Buffer; root: string; dataBlocks: number } {
  const bs = o.blockSize ?? 4096;
  const alg = o.algorithm ?? 'sha256';
  if (data.length % bs !== 0) throw new RangeError('data must be whole blocks');
  const H = (b: Buffer) => createHash(alg).update(o.salt).update(b).digest();
  const blocks = (buf: Buffer) => Array.from({ length: buf.length / bs }, (_, i) => buf.subarray(i * bs, (i + 1) * bs));
  const dataBlocks = data.length / bs;
  let digests = blocks(data).map(H);
  const size = digests[0].length;
  // Version 1 pads each digest to a power of two; sha256's 32 bytes need none.
  if ((size & (size - 1)) !== 0) throw new RangeError('digest size not a power of two: padding not implemented');
  const levels: Buffer[] = [];
  for (;;) {
    const perBlock = bs / size;
    const level = Buffer.alloc(Math.ceil(digests.length / perBlock) * bs);
    digests.forEach((d, i) => d.copy(level, i * size));
    levels.push(level);
    if (level.length === bs) break;
    digests = blocks(level).map(H);
  }
  const top = levels[levels.length - 1];
  return { hash: Buffer.concat([...levels].reverse()), root: H(top).toString('hex'), dataBlocks };
}
