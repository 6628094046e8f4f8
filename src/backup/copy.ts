// The copy of an image from a frozen source (a snapshot) to a file or a block device: read ahead
// while the last block is written, zeros left as holes in a file, every byte hashed, and the
// destination read back and hashed again once it is on disk. CRC-32 by default: zlib's runs at
// memory speed, where sha256 (offered) costs more than the copy on a CPU without SHA extensions.
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';

/** Progress of a copy, in bytes. */
export interface CopyProgress {
  /** Bytes of the source read so far, and in all. */
  done: bigint;
  total: bigint;
  /** Bytes written to the destination so far, and bytes left as holes. */
  written: bigint;
  holes: bigint;
  /** 'copy' while copying, 'verify' while reading the destination back. */
  phase: 'copy' | 'verify';
}

/** What a copy did. */
export interface CopyResult {
  bytesRead: bigint;
  bytesWritten: bigint;
  /** Bytes of zeros not written (holes of a sparse file). */
  holes: bigint;
  /** The image's checksum, as read and as read back: `crc32:<8 hex>` or `sha256:<hex>`. */
  checksum: string;
}

/** How the image is checksummed. */
export type ChecksumKind = 'crc32' | 'sha256';

/** zlib.crc32 is in Node 20.15 and later. */
export const defaultChecksum = (): ChecksumKind => (typeof zlib.crc32 === 'function' ? 'crc32' : 'sha256');

interface Hasher {
  update(data: Buffer): void;
  digest(): string;
}

function hasher(kind: ChecksumKind): Hasher {
  if (kind === 'sha256') {
    const h = crypto.createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => `sha256:${h.digest('hex')}` };
  }
  if (typeof zlib.crc32 !== 'function') throw new RangeError(`checksum crc32 needs Node 20.15 or newer (this is ${process.version}): use sha256`);
  let c = 0;
  return { update: (d) => void (c = zlib.crc32(d, c)), digest: () => `crc32:${c.toString(16).padStart(8, '0')}` };
}

/** Options of copyImage(). */
export interface CopyOptions {
  /** Bytes to copy from offset 0. */
  size: bigint;
  /** Leave blocks of zeros as holes (file destinations only: a device must get every block). */
  sparse: boolean;
  /** Read size (default 1 MiB). */
  blockSize?: number;
  /** Default: crc32 where Node has it (20.15+), else sha256. */
  checksum?: ChecksumKind;
  /** Granularity of holes (default 4 KiB, a filesystem block). */
  holeSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: CopyProgress) => void;
  /** Least ms between two onProgress calls (default 200); the last one always comes. */
  progressEveryMs?: number;
  /** Makes what was written durable and readable from the medium before it is read back
   *  (fsync; for a block device also dropping its page cache). */
  beforeVerify?: (fd: number) => Promise<void>;
}

/** The destination, read back, does not hash as what was read from the source. */
export class CopyMismatchError extends Error {
  /** Always `'CopyMismatchError'`. */
  override name = 'CopyMismatchError';
  /** Always `'EIO'`. */
  readonly code = 'EIO';
  /** `read`: the checksum of what was read; `readBack`: of what the destination holds. */
  constructor(readonly read: string, readonly readBack: string) {
    super(`the destination does not hold what was read: ${read} read, ${readBack} read back`);
  }
}

function abortIf(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : Object.assign(new Error('the copy was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

function readAt(fd: number, buf: Buffer, length: number, position: bigint): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function writeAt(fd: number, buf: Buffer, position: bigint): Promise<void> {
  return new Promise((resolve, reject) => {
    const more = (done: number): void => {
      if (done === buf.length) return resolve();
      fs.write(fd, buf, done, buf.length - done, Number(position) + done, (err, n) => (err ? reject(err) : more(done + n)));
    };
    more(0);
  });
}

/** Every `length` bytes from 0, read `blockSize` at a time with the next read already under way;
 *  a short read before the end is an error (the source shrank). */
async function* blocks(fd: number, size: bigint, blockSize: number, signal?: AbortSignal): AsyncGenerator<{ at: bigint; data: Buffer }> {
  const bufs = [Buffer.allocUnsafe(blockSize), Buffer.allocUnsafe(blockSize)];
  const lengthAt = (at: bigint): number => Number(size - at < BigInt(blockSize) ? size - at : BigInt(blockSize));
  let at = 0n;
  let which = 0;
  let next = size > 0n ? readAt(fd, bufs[0], lengthAt(0n), 0n) : undefined;
  while (next) {
    abortIf(signal);
    const want = lengthAt(at);
    const n = await next;
    if (n !== want) throw Object.assign(new Error(`short read at byte ${at}: ${n} of ${want} bytes`), { code: 'EIO' });
    const data = bufs[which].subarray(0, n);
    const after = at + BigInt(n);
    which ^= 1;
    next = after < size ? readAt(fd, bufs[which], lengthAt(after), after) : undefined;
    yield { at, data };
    at = after;
  }
}

/** The runs of `data` that are not all zeros, at `holeSize` granularity. */
export function dataRuns(data: Buffer, holeSize: number): Array<[number, number]> {
  const zero = Buffer.alloc(holeSize);
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let off = 0; off < data.length; off += holeSize) {
    const end = Math.min(off + holeSize, data.length);
    const empty = data.subarray(off, end).equals(end - off === holeSize ? zero : zero.subarray(0, end - off));
    if (!empty && start < 0) start = off;
    if (empty && start >= 0) {
      runs.push([start, off]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, data.length]);
  return runs;
}

/**
 * Copies `o.size` bytes from `src` to `dst` (both open descriptors), then reads `dst` back and
 * checks it hashes as what was read. Throws CopyMismatchError when it does not, AbortError when
 * the signal aborts; a file destination is sized to `o.size` (holes at its end included).
 */
export async function copyImage(src: number, dst: number, o: CopyOptions): Promise<CopyResult> {
  const blockSize = o.blockSize ?? 1024 * 1024;
  const holeSize = o.holeSize ?? 4096;
  const every = o.progressEveryMs ?? 200;
  const p: CopyProgress = { done: 0n, total: o.size, written: 0n, holes: 0n, phase: 'copy' };
  let last = 0;
  const report = (force = false): void => {
    const now = Date.now();
    if (!o.onProgress || (!force && now - last < every)) return;
    last = now;
    o.onProgress({ ...p });
  };
  const kind = o.checksum ?? defaultChecksum();
  const hash = hasher(kind);
  for await (const { at, data } of blocks(src, o.size, blockSize, o.signal)) {
    hash.update(data);
    if (o.sparse) {
      for (const [a, b] of dataRuns(data, holeSize)) {
        await writeAt(dst, data.subarray(a, b), at + BigInt(a));
        p.written += BigInt(b - a);
      }
      p.holes = p.done + BigInt(data.length) - p.written;
    } else {
      await writeAt(dst, data, at);
      p.written += BigInt(data.length);
    }
    p.done += BigInt(data.length);
    report();
  }
  if (o.sparse) await new Promise<void>((resolve, reject) => fs.ftruncate(dst, Number(o.size), (e) => (e ? reject(e) : resolve())));
  const checksum = hash.digest();
  report(true);
  abortIf(o.signal);
  if (o.beforeVerify) await o.beforeVerify(dst);
  p.phase = 'verify';
  p.done = 0n;
  report(true);
  const back = hasher(kind);
  // Larger reads for the read-back: nothing is written meanwhile.
  for await (const { data } of blocks(dst, o.size, Math.max(blockSize, 4 * 1024 * 1024), o.signal)) {
    back.update(data);
    p.done += BigInt(data.length);
    report();
  }
  report(true);
  const readBack = back.digest();
  if (readBack !== checksum) throw new CopyMismatchError(checksum, readBack);
  return { bytesRead: o.size, bytesWritten: p.written, holes: p.holes, checksum };
}
