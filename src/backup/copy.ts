// The copy of an image from a frozen source (a snapshot) to a file or a block device: reads ahead
// while earlier blocks are written, direct I/O where the ends allow it, zeros left as holes in a
// file (or the whole image one gzip stream: compress.ts), every byte hashed, and the destination read
// back and hashed again once it is on disk. CRC-32 by default: zlib's runs at
// memory speed, where sha256 (offered) costs more than the copy on a CPU without SHA extensions.
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { DIRECT_ALIGN, directBuffer } from '../direct';
import { gatherer, zlibPipe, type CompressKind } from './compress';

/** Progress of a copy, in bytes. */
export interface CopyProgress {
  /** Bytes of the source read so far, and in all. */
  done: bigint;
  total: bigint;
  /** Bytes written to the destination so far (compressed bytes when compressed), and bytes left
   *  as holes. */
  written: bigint;
  holes: bigint;
  /** 'copy' while copying, 'verify' while reading the destination back. */
  phase: 'copy' | 'verify';
}

/** What a copy did. */
export interface CopyResult {
  bytesRead: bigint;
  /** Bytes written to the destination: the compressed stream's size when compressed. */
  bytesWritten: bigint;
  /** Bytes of zeros not written (holes of a sparse file; 0 when compressed). */
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
  /** Write the image as one gzip stream from the destination's start (a file; `sparse` is then
   *  ignored), and read it back through gunzip. The checksum is still the image's, uncompressed. */
  compress?: CompressKind;
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

/** One end of a copy: a descriptor, and where the file or device allows it the same one opened
 *  with O_DIRECT (openDirect), which carries every aligned transfer of DIRECT_MIN bytes or more. */
export interface CopyEnd {
  fd: number;
  direct?: number;
}

// Small scattered runs of a sparse image go through the page cache: a direct write waits for the
// medium each time.
const DIRECT_MIN = 64 * 1024;
// Transfers under way at once (reads ahead, writes behind): as many as libuv's default pool runs.
const DEPTH = 4;

const quiet = <T>(p: Promise<T>): Promise<T> => {
  p.catch(() => undefined); // awaited later, or settled before the copy returns or throws
  return p;
};

/** `len` bytes at `pos` of the file from `off` in `buf` (its start aligned: directBuffer), read or
 *  written whole unless the file ends; direct where aligned, through the page cache otherwise or
 *  once the file refused a direct transfer. Resolves with the bytes moved. */
async function transfer(end: CopyEnd, op: 'read' | 'write', buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  let done = 0;
  while (done < len) {
    const [o, l, at] = [off + done, len - done, pos + done];
    const direct = end.direct !== undefined && l >= DIRECT_MIN && [o, l, at].every((x) => x % DIRECT_ALIGN === 0);
    const fd = direct ? end.direct! : end.fd;
    let n: number;
    try {
      n = await new Promise<number>((resolve, reject) => {
        const cb = (err: Error | null, k: number): void => (err ? reject(err) : resolve(k));
        if (op === 'read') fs.read(fd, buf, o, l, at, cb);
        else fs.write(fd, buf, o, l, at, cb);
      });
    } catch (e) {
      if (!direct || (e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      end.direct = undefined; // the filesystem wants another alignment: the page cache from here on
      continue;
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Reads `size` bytes of `src` from 0, a buffer at a time with the others' reads already under
 *  way, and hands each block to `use` in order; a buffer is read into again once the promise `use`
 *  returned for it (its writes) settles. A short read before `size` is an error (the source shrank).
 *  Every transfer has settled when it returns or throws. */
async function eachBlock(src: CopyEnd, size: bigint, bufs: Buffer[], signal: AbortSignal | undefined, use: (at: bigint, data: Buffer) => Promise<unknown> | undefined): Promise<void> {
  const busy: Promise<unknown>[] = bufs.map(() => Promise.resolve());
  const queue: Array<{ at: bigint; want: number; b: number; read: Promise<number> }> = [];
  let next = 0n;
  let k = 0;
  const fill = (): void => {
    while (queue.length < bufs.length && next < size) {
      const [at, b] = [next, k++ % bufs.length];
      const want = Number(size - at < BigInt(bufs[b].length) ? size - at : BigInt(bufs[b].length));
      next += BigInt(want);
      const read = quiet(busy[b].then(() => transfer(src, 'read', bufs[b], 0, want, Number(at))));
      busy[b] = read;
      queue.push({ at, want, b, read });
    }
  };
  try {
    fill();
    while (queue.length) {
      abortIf(signal);
      const { at, want, b, read } = queue.shift()!;
      const n = await read;
      if (n !== want) throw Object.assign(new Error(`short read at byte ${at}: ${n} of ${want} bytes`), { code: 'EIO' });
      const writes = use(at, bufs[b].subarray(0, n));
      if (writes) busy[b] = quiet(writes);
      fill();
    }
    await Promise.all(busy);
  } catch (e) {
    await Promise.allSettled(busy);
    throw e;
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

/** `len` bytes of `data` from `off` written at `pos` of `to`, all of them or ENOSPC. */
async function writeAll(to: CopyEnd, data: Buffer, off: number, len: number, pos: number): Promise<void> {
  if ((await transfer(to, 'write', data, off, len, pos)) !== len) throw Object.assign(new Error(`the destination took no more at byte ${pos}: is it full?`), { code: 'ENOSPC' });
}

/** Where the copy puts the blocks it read: put() resolves once the block's buffer may be read into
 *  again; end() completes the destination after the last block; abort() settles every transfer
 *  after a failure. */
interface Sink {
  put(at: bigint, data: Buffer): Promise<unknown>;
  end(): Promise<void>;
  abort(): Promise<void>;
}

/** The image as it is, at its own offsets: zeros left as holes when sparse. */
function plainSink(to: CopyEnd, o: CopyOptions, p: CopyProgress): Sink {
  const holeSize = o.holeSize ?? 4096;
  return {
    put: (at, data) => {
      const runs = o.sparse ? dataRuns(data, holeSize) : [[0, data.length]];
      p.written += BigInt(runs.reduce((sum, [a, b]) => sum + b - a, 0));
      p.holes = p.done - p.written;
      return Promise.all(runs.map(([a, b]) => writeAll(to, data, a, b - a, Number(at) + a)));
    },
    end: () => (o.sparse ? new Promise<void>((resolve, reject) => fs.ftruncate(to.fd, Number(o.size), (e) => (e ? reject(e) : resolve()))) : Promise.resolve()),
    abort: () => Promise.resolve(),
  };
}

/** The image as one compressed stream from the destination's start, in blocks of `size` bytes
 *  (direct where the destination allows it). */
function compressedSink(to: CopyEnd, kind: CompressKind, size: number, p: CopyProgress): Sink {
  const out = gatherer(directBuffer(size), async (data) => {
    await writeAll(to, data, 0, data.length, Number(p.written));
    p.written += BigInt(data.length);
  });
  const z = zlibPipe(kind, 'compress', (chunk) => out.put(chunk));
  return {
    put: (_at, data) => z.write(data),
    end: async () => {
      await z.end();
      await out.end();
    },
    abort: () => z.abort(),
  };
}

/** Reads the file `from` back, whatever its size, through the decompressor into `seen`; resolves
 *  with why it does not decompress (undefined: it does). */
async function decompressBack(from: CopyEnd, kind: CompressKind, bufs: Buffer[], signal: AbortSignal | undefined, seen: (data: Buffer) => void): Promise<string | undefined> {
  const z = zlibPipe(kind, 'decompress', seen);
  try {
    await eachBlock(from, BigInt(fs.fstatSync(from.fd).size), bufs, signal, (_at, data) => z.write(data));
    await z.end();
  } catch (e) {
    await z.abort();
    if (!String((e as { code?: unknown }).code).startsWith('Z_')) throw e;
    return `${kind} data that does not decompress (${(e as Error).message})`;
  }
  return undefined;
}

/**
 * Copies `o.size` bytes from `src` to `dst`, then reads `dst` back and checks it hashes as what was
 * read. Throws CopyMismatchError when it does not, AbortError when the signal aborts; a file
 * destination is sized to `o.size` (holes at its end included), or holds the compressed stream. The
 * ends are descriptors, or CopyEnd with a direct descriptor: then the data bypasses the page cache
 * and the read-back reads the medium.
 */
export async function copyImage(src: number | CopyEnd, dst: number | CopyEnd, o: CopyOptions): Promise<CopyResult> {
  const [from, to] = [src, dst].map((e): CopyEnd => (typeof e === 'number' ? { fd: e } : { ...e }));
  const blockSize = o.blockSize ?? 1024 * 1024;
  const bufs = Array.from({ length: DEPTH }, () => directBuffer(blockSize));
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
  const sink = o.compress ? compressedSink(to, o.compress, blockSize, p) : plainSink(to, o, p);
  try {
    await eachBlock(from, o.size, bufs, o.signal, (at, data) => {
      hash.update(data);
      p.done += BigInt(data.length);
      const put = sink.put(at, data);
      report();
      return put;
    });
    await sink.end();
  } catch (e) {
    await sink.abort();
    throw e;
  }
  const checksum = hash.digest();
  report(true);
  abortIf(o.signal);
  if (o.beforeVerify) await o.beforeVerify(to.fd);
  p.phase = 'verify';
  p.done = 0n;
  report(true);
  const back = hasher(kind);
  const seen = (data: Buffer): void => {
    back.update(data);
    p.done += BigInt(data.length);
    report();
  };
  const unreadable = o.compress ? await decompressBack(to, o.compress, bufs, o.signal, seen) : await eachBlock(to, o.size, bufs, o.signal, (_at, data) => void seen(data));
  report(true);
  const readBack = unreadable ?? (p.done === o.size ? back.digest() : `${back.digest()} of ${p.done} bytes`);
  if (readBack !== checksum) throw new CopyMismatchError(checksum, readBack);
  return { bytesRead: o.size, bytesWritten: p.written, holes: p.holes, checksum };
}
