// A compressed image: the device's bytes as one gzip stream, written from the start of the file
// (no holes: a stream has none), and read back through gunzip. The copy engine (copy.ts) feeds the
// stream block by block and waits for it to take each block before reading into that buffer again;
// the stream waits in turn for its output to be written: memory holds the blocks in flight, zlib's
// own buffers and one output block, whatever the image's size.
import zlib from 'node:zlib';

/** How the image is compressed. */
export type CompressKind = 'gzip';

// Level 1 (gzip -1), not gzip's default 6: a disk image is mostly zeros (any level squeezes them to
// almost nothing) and data that is binary or already compressed, where 6 gains a few per cent for
// about 1.5x the CPU time (measured in the test guest: an ext4 image 2.24 MB at 1 and 2.14 at 6 in
// 0.62 s and 1.08 s; 16 MiB of binaries and random data 3% smaller at 6 in 2.2 s against 1.5).
// Compressed, the copy is CPU-bound, so speed wins.
const GZIP_LEVEL = 1;
// zlib's output pieces (its default is 16 KiB): fewer, larger pieces to gather into output blocks.
const CHUNK = 256 * 1024;

/** A zlib stream fed block by block; its output handed, in order, to a consumer it waits for. */
export interface ZlibPipe {
  /** Resolves once the stream has taken `data` (the buffer may then be reused). */
  write(data: Buffer): Promise<void>;
  /** Ends the input; resolves once all the output was consumed. Rejects with the stream's error
   *  (data that does not decompress, a consumer that failed). */
  end(): Promise<void>;
  /** Destroys the stream after a failure elsewhere; resolves once the consumer has stopped. */
  abort(): Promise<void>;
}

/** `kind`'s compressing (`'compress'`) or decompressing stream, fed by write() and drained into
 *  `consume`; a failure of either side ends both (every pending write() rejects). */
export function zlibPipe(kind: CompressKind, way: 'compress' | 'decompress', consume: (chunk: Buffer) => Promise<void> | void): ZlibPipe {
  const z = way === 'compress' ? zlib.createGzip({ level: GZIP_LEVEL, chunkSize: CHUNK }) : zlib.createGunzip({ chunkSize: CHUNK });
  let failure: unknown;
  // The rejections of writes the stream has not taken yet: a stream that failed calls no callback.
  const pending = new Set<(e: unknown) => void>();
  const fail = (e: unknown): void => {
    failure ??= e;
    for (const reject of pending) reject(failure);
    pending.clear();
  };
  z.once('error', fail);
  z.once('close', () => failure !== undefined && fail(failure));
  const drained = (async () => {
    for await (const chunk of z) await consume(chunk as Buffer);
  })().catch((e: unknown) => {
    fail(e);
    z.destroy(e as Error);
    throw failure;
  });
  drained.catch(() => undefined); // awaited by end() or abort()
  return {
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        if (failure !== undefined) return reject(failure);
        pending.add(reject);
        z.write(data, (e) => {
          pending.delete(reject);
          if (e) reject(failure ?? e);
          else resolve();
        });
      }),
    end: async () => {
      z.end();
      await drained;
    },
    abort: async () => {
      fail(new Error('the stream was aborted'));
      z.destroy();
      await drained.catch(() => undefined);
    },
  };
}

/** Gathers pieces into `buf` and hands it to `flush` whenever it is full, and once more at the end
 *  with what is left: output blocks of the buffer's size (aligned for direct I/O) from pieces of
 *  any size. */
export function gatherer(buf: Buffer, flush: (data: Buffer) => Promise<void>): { put(piece: Buffer): Promise<void>; end(): Promise<void> } {
  let used = 0;
  return {
    async put(piece) {
      for (let off = 0; off < piece.length; ) {
        const n = piece.copy(buf, used, off);
        [used, off] = [used + n, off + n];
        if (used === buf.length) {
          await flush(buf);
          used = 0;
        }
      }
    },
    end: async () => {
      if (used) await flush(buf.subarray(0, used));
      used = 0;
    },
  };
}
