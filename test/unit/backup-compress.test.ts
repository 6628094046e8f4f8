// The copy engine writing a gzip stream: the file decompresses to the source (gzip and gunzip agree
// with node:zlib), the checksum is the uncompressed image's, a file that does not hold the stream
// fails the read-back, an abort or a full destination stops it with every transfer settled.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { copyImage, CopyMismatchError, type CopyOptions, type CopyProgress } from '../../src/backup/copy';
import { gatherer, zlibPipe } from '../../src/backup/compress';
import { openDirect } from '../../src/direct';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devmapper-compress-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;
let n = 0;
const crc = (b: Buffer): string => `crc32:${zlib.crc32(b).toString(16).padStart(8, '0')}`;

/** 6 MiB + 1 KiB: random data, text, zeros, and a tail not a multiple of 4 KiB. */
function source(): { file: string; bytes: Buffer } {
  const bytes = Buffer.alloc(6 * MiB + 1024);
  crypto.randomFillSync(bytes, 0, 2 * MiB);
  for (let off = 2 * MiB; off < 4 * MiB; off += 32) bytes.write(`line ${off} of some text\n`.padEnd(32), off);
  crypto.randomFillSync(bytes, 6 * MiB, 1024);
  const file = path.join(dir, `src-${++n}`);
  fs.writeFileSync(file, bytes);
  return { file, bytes };
}

/** Copies `src` compressed to a new file, both ends direct where /tmp takes it. */
async function copy(src: string, o: Partial<CopyOptions> = {}) {
  const dst = path.join(dir, `dst-${++n}.gz`);
  const fds = [fs.openSync(src, 'r'), fs.openSync(dst, 'wx+')];
  try {
    const ends = [src, dst].map((f, i) => ({ fd: fds[i], direct: openDirect(f, i ? fs.constants.O_RDWR : fs.constants.O_RDONLY) }));
    for (const e of ends) if (e.direct !== undefined) fds.push(e.direct);
    const r = await copyImage(ends[0], ends[1], { size: BigInt(fs.statSync(src).size), sparse: true, compress: 'gzip', ...o });
    return { r, dst };
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

describe('copyImage, compressed', () => {
  it('the file is a gzip stream of the source; the checksum is of the uncompressed image; no holes; progress counts both', async () => {
    const { file, bytes } = source();
    const seen: CopyProgress[] = [];
    const { r, dst } = await copy(file, { progressEveryMs: 0, onProgress: (p) => seen.push(p) });
    const z = fs.readFileSync(dst);
    expect(zlib.gunzipSync(z).equals(bytes)).toBe(true);
    expect(r).toEqual({ bytesRead: BigInt(bytes.length), bytesWritten: BigInt(z.length), holes: 0n, checksum: crc(bytes) });
    expect(z.length).toBeLessThan(2.5 * MiB); // random data stays, text and zeros shrink
    expect(seen.filter((p) => p.phase === 'copy').at(-1)).toEqual({ done: BigInt(bytes.length), total: BigInt(bytes.length), written: BigInt(z.length), holes: 0n, phase: 'copy' });
    expect(seen.filter((p) => p.phase === 'verify').at(-1)).toMatchObject({ done: BigInt(bytes.length) });
    const { r: s } = await copy(file, { checksum: 'sha256', blockSize: 64 * 1024 });
    expect(s.checksum).toBe(`sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`);
  });

  it('a file that does not hold the stream fails the read-back: a changed byte, a cut, a changed image', async () => {
    const { file } = source();
    const edits: Array<[(fd: number) => void, RegExp]> = [
      [(fd) => void fs.writeSync(fd, Buffer.from([0x55]), 0, 1, 1024 * 1024 + 7), /^gzip data that does not decompress \(/], // inside the stream
      [(fd) => fs.ftruncateSync(fd, fs.fstatSync(fd).size - 100), /^gzip data that does not decompress \(unexpected end of file\)/], // its end cut
      [(fd) => fs.ftruncateSync(fd, fs.writeSync(fd, zlib.gzipSync(Buffer.alloc(6 * MiB + 1024)), 0, undefined, 0)), /^crc32:[0-9a-f]{8}$/], // another image, whole
      [(fd) => void fs.writeSync(fd, Buffer.from('garbage'), 0, undefined, fs.fstatSync(fd).size), /^gzip data that does not decompress \(/], // something after it
    ];
    for (const [edit, readBack] of edits) {
      const err = await copy(file, { beforeVerify: async (fd) => edit(fd) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CopyMismatchError);
      expect((err as CopyMismatchError).readBack).toMatch(readBack);
      expect((err as CopyMismatchError).readBack).not.toBe((err as CopyMismatchError).read);
    }
  });

  it('an abort while copying or reading back stops it; so does a destination that fails', async () => {
    const { file } = source();
    for (const phase of ['copy', 'verify']) {
      const ac = new AbortController();
      const onProgress = (p: CopyProgress): void => void (p.phase === phase && p.done >= BigInt(MiB) && ac.abort());
      const err = await copy(file, { blockSize: 64 * 1024, progressEveryMs: 0, onProgress, signal: ac.signal }).catch((e: unknown) => e);
      expect((err as Error).name, phase).toBe('AbortError');
    }
    // A destination that takes nothing (opened read-only): the write's EBADF ends the copy.
    const dst = path.join(dir, `ro-${++n}`);
    fs.writeFileSync(dst, '');
    const fds = [fs.openSync(file, 'r'), fs.openSync(dst, 'r')];
    const err = await copyImage(fds[0], fds[1], { size: BigInt(fs.statSync(file).size), sparse: false, compress: 'gzip' }).catch((e: unknown) => e);
    fds.forEach((fd) => fs.closeSync(fd));
    expect((err as NodeJS.ErrnoException).code).toBe('EBADF');
  });

  it('zlibPipe: output in order, a write waits for the stream; gatherer: blocks of its size, the rest at the end', async () => {
    const blocks: Buffer[] = [];
    const g = gatherer(Buffer.alloc(1000), async (d) => void blocks.push(Buffer.from(d)));
    const z = zlibPipe('gzip', 'compress', (c) => g.put(c));
    const data = crypto.randomBytes(300 * 1024);
    for (let off = 0; off < data.length; off += 7000) await z.write(data.subarray(off, off + 7000));
    await z.end();
    await g.end();
    expect(blocks.slice(0, -1).every((b) => b.length === 1000)).toBe(true);
    expect(zlib.gunzipSync(Buffer.concat(blocks)).equals(data)).toBe(true);
    const bad = zlibPipe('gzip', 'decompress', () => undefined);
    await expect(Promise.all([bad.write(Buffer.from('not gzip at all')), bad.end()])).rejects.toMatchObject({ code: 'Z_DATA_ERROR' });
    await expect(bad.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'Z_DATA_ERROR' });
  });
});
