// The backup's copy engine on plain files: holes where the source is zero, the image hashed as read
// and as read back, a destination that does not hold what was read caught, abort and short reads.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyImage, CopyMismatchError, dataRuns, type CopyProgress } from '../../src/backup/copy';
import { openDirect } from '../../src/direct';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmapper-copy-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;
let n = 0;

/** An 8 MiB source with data at 0, at 3 MiB + 4 KiB (5 KiB of it) and in its last 4 KiB. */
function source(): { file: string; bytes: Buffer } {
  const bytes = Buffer.alloc(8 * MiB);
  crypto.randomFillSync(bytes, 0, 64 * 1024);
  crypto.randomFillSync(bytes, 3 * MiB + 4096, 5 * 1024);
  crypto.randomFillSync(bytes, 8 * MiB - 4096, 4096);
  const file = path.join(dir, `src-${++n}`);
  fs.writeFileSync(file, bytes);
  return { file, bytes };
}

/** Copies `src` to a new file; `direct`: both ends also opened with O_DIRECT (this host's /tmp
 *  takes it: the test fails where it does not, rather than proving nothing). */
async function copy(src: string, o: Partial<Parameters<typeof copyImage>[2]> = {}, direct = false) {
  const dst = path.join(dir, `dst-${++n}`);
  const fds = [fs.openSync(src, 'r'), fs.openSync(dst, 'w+')];
  try {
    const ends = [src, dst].map((f, i) => {
      if (!direct) return fds[i];
      const d = openDirect(f, i ? fs.constants.O_RDWR : fs.constants.O_RDONLY);
      expect(d).toBeTypeOf('number');
      fds.push(d!);
      return { fd: fds[i], direct: d };
    });
    const r = await copyImage(ends[0], ends[1], { size: BigInt(fs.statSync(src).size), sparse: true, ...o });
    return { r, dst };
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

describe('copyImage', () => {
  it('dataRuns: the non-zero runs at hole granularity, a partial last hole included', () => {
    const b = Buffer.alloc(10 * 1024);
    b[100] = 1;
    b[4096 * 2 + 5] = 1;
    expect(dataRuns(b, 4096)).toEqual([[0, 4096], [8192, 10240]]);
    expect(dataRuns(Buffer.alloc(8192), 4096)).toEqual([]);
    b[5000] = 1;
    expect(dataRuns(b, 4096)).toEqual([[0, 10240]]);
  });

  it('a sparse copy: equal bytes, holes where the source is zero, the checksum of the source', async () => {
    const { file, bytes } = source();
    const { r, dst } = await copy(file);
    expect(fs.readFileSync(dst).equals(bytes)).toBe(true);
    expect(r.checksum).toBe(`crc32:${zlib.crc32(bytes).toString(16).padStart(8, '0')}`);
    const { r: r2 } = await copy(file, { checksum: 'sha256' });
    expect(r2.checksum).toBe(`sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`);
    // 64 KiB + two 4 KiB blocks for the 5 KiB run + the last 4 KiB.
    expect(r.bytesWritten).toBe(BigInt(64 * 1024 + 3 * 4096));
    expect(r.holes).toBe(BigInt(8 * MiB) - r.bytesWritten);
    expect(fs.statSync(dst).blocks * 512).toBeLessThan(1 * MiB);
  });

  it('not sparse (a block device): every byte written', async () => {
    const { file, bytes } = source();
    const { r, dst } = await copy(file, { sparse: false });
    expect(r.bytesWritten).toBe(BigInt(bytes.length));
    expect(r.holes).toBe(0n);
    expect(fs.statSync(dst).blocks * 512).toBeGreaterThanOrEqual(8 * MiB);
  });

  it('a source ending in zeros still gives a file of the full size', async () => {
    const file = path.join(dir, `src-${++n}`);
    const bytes = Buffer.alloc(3 * MiB);
    bytes[7] = 9;
    fs.writeFileSync(file, bytes);
    const { dst } = await copy(file, { blockSize: 64 * 1024 });
    expect(fs.statSync(dst).size).toBe(3 * MiB);
    expect(fs.readFileSync(dst).equals(bytes)).toBe(true);
  });

  it('direct ends: the same image, holes and checksum; a tail not a multiple of 4 KiB goes through the page cache', async () => {
    const { file, bytes } = source();
    const tail = crypto.randomBytes(1536);
    fs.appendFileSync(file, tail);
    const whole = Buffer.concat([bytes, tail]);
    const { r, dst } = await copy(file, {}, true);
    expect(fs.readFileSync(dst).equals(whole)).toBe(true);
    expect(r.checksum).toBe(`crc32:${zlib.crc32(whole).toString(16).padStart(8, '0')}`);
    expect(r.bytesWritten).toBe(BigInt(64 * 1024 + 3 * 4096 + 1536));
    expect(fs.statSync(dst).blocks * 512).toBeLessThan(1 * MiB);
    const dense = path.join(dir, `src-${++n}`);
    fs.writeFileSync(dense, crypto.randomBytes(5 * MiB));
    const { r: r2, dst: d2 } = await copy(dense, { sparse: false }, true);
    expect(fs.readFileSync(d2).equals(fs.readFileSync(dense))).toBe(true);
    expect(r2.bytesWritten).toBe(BigInt(5 * MiB));
  });

  it('a destination that does not hold what was read fails the copy, read back directly or not', async () => {
    const { file } = source();
    const corrupt = async (fd: number): Promise<void> => void fs.writeSync(fd, Buffer.from([1]), 0, 1, 5 * MiB);
    for (const direct of [false, true]) {
      const err = await copy(file, { beforeVerify: corrupt }, direct).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CopyMismatchError);
      expect((err as CopyMismatchError).read).not.toBe((err as CopyMismatchError).readBack);
    }
  });

  it('reports progress through the copy and the read-back, ending at the total', async () => {
    const { file } = source();
    const seen: CopyProgress[] = [];
    await copy(file, { progressEveryMs: 0, blockSize: MiB, onProgress: (p) => seen.push(p) });
    const copying = seen.filter((p) => p.phase === 'copy');
    const verifying = seen.filter((p) => p.phase === 'verify');
    expect(copying.length).toBeGreaterThanOrEqual(8);
    expect(copying.map((p) => p.done)).toEqual([...copying.map((p) => p.done)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(copying.at(-1)).toMatchObject({ done: BigInt(8 * MiB), total: BigInt(8 * MiB) });
    expect(verifying.at(-1)).toMatchObject({ done: BigInt(8 * MiB) });
  });

  it('an aborted signal stops it; a source shorter than the size is a short read', async () => {
    const { file } = source();
    const ac = new AbortController();
    const err = await copy(file, { blockSize: 64 * 1024, progressEveryMs: 0, onProgress: (p) => p.done >= BigInt(MiB) && ac.abort(), signal: ac.signal }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    const short = await copy(file, { size: BigInt(9 * MiB) }).catch((e: unknown) => e);
    expect((short as Error).message).toMatch(/short read at byte 8388608: 0 of 1048576 bytes/);
  });
});
