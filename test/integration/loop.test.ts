import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DmError } from '../../src/errors';
import * as loop from '../../src/loop';
import { makeLoop, removeTestDir, sweepLoops, testDir, type TestLoop } from '../helpers/loop';

const MiB = 1 << 20;
const ROOT = path.join(__dirname, '..', '..');
const cleanups: Array<() => Promise<void>> = [];

async function track(size: number, opts: Parameters<typeof makeLoop>[1] = {}): Promise<TestLoop> {
  const l = await makeLoop(size, opts);
  cleanups.push(l.cleanup);
  return l;
}

const sysfs = (n: number, attr: string) => fs.readFile(`/sys/block/loop${n}/${attr}`, 'utf8').then((s) => s.trim());
const bound = (n: number) => fs.access(`/sys/block/loop${n}/loop/backing_file`).then(() => true, () => false);

/** A path in this run's temp dir, deleted after the test. */
function scratch(name: string): string {
  const file = path.join(testDir(), name);
  cleanups.push(() => fs.rm(file, { force: true }));
  return file;
}

async function writeAt(file: string, offset: number, data: Buffer): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    await fh.write(data, 0, data.length, offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

function block(text: string): Buffer {
  const buf = Buffer.alloc(4096);
  buf.write(text);
  return buf;
}

beforeAll(async () => {
  await sweepLoops();
});

afterAll(removeTestDir);

afterEach(async () => {
  delete process.env.DEVMAPPER_LOOP_LEGACY;
  while (cleanups.length) await cleanups.pop()!();
});

describe('attach', () => {
  test('bytes written through the device land in the sparse backing file', async () => {
    const l = await track(4 * MiB);
    expect(l.path).toBe(`/dev/loop${l.number}`);
    expect(l.major).toBe(7);
    expect((await fs.stat(l.file)).blocks).toBeLessThan(64);
    expect(await loop.blockDeviceSize(l.path)).toBe(BigInt(4 * MiB));
    await writeAt(l.path, 8192, block('dmtest payload'));
    expect(await readAt(l.file, 8192, 4096)).toEqual(block('dmtest payload'));
  });

  test('a read-only device refuses writes and leaves the backing file untouched', async () => {
    const l = await track(MiB, { readOnly: true });
    expect(await sysfs(l.number, 'ro')).toBe('1');
    expect((await loop.info(l.path)).readOnly).toBe(true);
    // Depending on the kernel, the open for writing or the write itself is refused.
    await expect(writeAt(l.path, 0, block('must not land'))).rejects.toMatchObject({
      code: expect.stringMatching(/^(EROFS|EACCES|EPERM|EIO)$/),
    });
    expect(await readAt(l.file, 0, 4096)).toEqual(Buffer.alloc(4096));
  });

  test('an autoclear device stays while attach holds it and detaches itself once released', async () => {
    const l = await track(MiB, { autoclear: true });
    expect(l.release).toBeTypeOf('function');
    expect((await loop.info(l.path)).autoclear).toBe(true);
    await l.release!();
    expect(await bound(l.number)).toBe(false);
    await expect(loop.info(l.path)).rejects.toMatchObject({ code: 'ENXIO' });
  });

  test('direct I/O is set at attach and can be switched off', async () => {
    const l = await track(MiB, { directIo: true });
    expect(await sysfs(l.number, 'loop/dio')).toBe('1');
    expect((await loop.info(l.path)).directIo).toBe(true);
    await loop.setDirectIo(l.path, false);
    expect(await sysfs(l.number, 'loop/dio')).toBe('0');
  });

  test('the logical block size is set at attach and can be changed', async () => {
    const l = await track(MiB, { blockSize: 4096 });
    expect(await sysfs(l.number, 'queue/logical_block_size')).toBe('4096');
    expect((await loop.info(l.path)).blockSize).toBe(4096);
    await loop.setBlockSize(l.number, 1024);
    expect(await sysfs(l.number, 'queue/logical_block_size')).toBe('1024');
  });

  test('partscan is set at attach', async () => {
    const l = await track(MiB, { partscan: true });
    expect(await sysfs(l.number, 'loop/partscan')).toBe('1');
    expect((await loop.info(l.path)).partscan).toBe(true);
  });

  test('offset and size limit select a window of the backing file', async () => {
    const l = await track(4 * MiB, { offset: MiB, sizeLimit: BigInt(MiB) });
    expect(await loop.blockDeviceSize(l.path)).toBe(BigInt(MiB));
    const i = await loop.info(l.path);
    expect([i.offset, i.sizeLimit]).toEqual([BigInt(MiB), BigInt(MiB)]);
    await writeAt(l.path, 0, block('window start'));
    expect(await readAt(l.file, MiB, 4096)).toEqual(block('window start'));
  });

  test('size extends an existing shorter file and never shortens a longer one', async () => {
    const file = scratch('existing.img');
    await fs.writeFile(file, block('keep me'));
    const dev = await loop.attach(file, { size: 2 * MiB });
    cleanups.push(() => loop.detach(dev.path));
    expect((await fs.stat(file)).size).toBe(2 * MiB);
    expect(await readAt(file, 0, 4096)).toEqual(block('keep me'));
    const again = await loop.attach(file, { size: MiB, readOnly: true });
    cleanups.push(() => loop.detach(again.path));
    expect((await fs.stat(file)).size).toBe(2 * MiB);
  });

  test('attach retries while the free device is held exclusively, and gives up with EBUSY', async () => {
    const n = await loop.freeDevice();
    const excl = await fs.open(`/dev/loop${n}`, constants.O_RDONLY | constants.O_EXCL);
    const file = scratch('busy.img');
    try {
      await expect(loop.attach(file, { size: MiB })).rejects.toMatchObject({ code: 'EBUSY', command: 'LOOP_CONFIGURE' });
      setTimeout(() => void excl.close(), 40);
      const dev = await loop.attach(file);
      cleanups.push(() => loop.detach(dev.path));
      expect(dev.number).toBe(n);
    } finally {
      await excl.close();
    }
  });
});

describe('capacity', () => {
  test('refreshCapacity makes the device follow its grown backing file', async () => {
    const l = await track(MiB);
    await fs.truncate(l.file, 3 * MiB);
    expect(await loop.blockDeviceSize(l.path)).toBe(BigInt(MiB));
    expect(await loop.refreshCapacity(l.path)).toBe(BigInt(3 * MiB));
    expect(await loop.blockDeviceSize(l.path)).toBe(BigInt(3 * MiB));
  });
});

describe('list and find', () => {
  test('list shows an attached device with its backing file and settings', async () => {
    const l = await track(MiB, { blockSize: 2048 });
    const entry = (await loop.list()).find((d) => d.path === l.path);
    expect(entry).toMatchObject({ number: l.number, major: l.major, minor: l.minor, file: l.file, blockSize: 2048, deleted: false });
    const st = await fs.stat(l.file, { bigint: true });
    expect([entry!.backingDevice, entry!.backingInode]).toEqual([st.dev, st.ino]);
  });

  test('findByBackingFile finds the device through any path to the file', async () => {
    const l = await track(MiB);
    const link = scratch('link.img');
    await fs.symlink(l.file, link);
    expect((await loop.findByBackingFile(link)).map((d) => d.path)).toEqual([l.path]);
  });

  test('an unlinked backing file is reported as deleted', async () => {
    const l = await track(MiB);
    await fs.rm(l.file);
    expect(await loop.info(l.path)).toMatchObject({ file: l.file, deleted: true });
    expect((await loop.findByBackingFile(l.file)).map((d) => d.path)).toEqual([l.path]);
  });
});

describe('detach', () => {
  test('detach unbinds the device, by path or by number', async () => {
    const a = await track(MiB);
    const b = await track(MiB);
    await loop.detach(a.path);
    await loop.detach(b.number);
    expect([await bound(a.number), await bound(b.number)]).toEqual([false, false]);
    const paths = (await loop.list()).map((d) => d.path);
    expect(paths).not.toContain(a.path);
    expect(paths).not.toContain(b.path);
  });

  test('detaching a device still open elsewhere takes effect on its last close', async () => {
    const l = await track(MiB);
    const holder = await fs.open(l.path, 'r');
    try {
      await loop.detach(l.path);
      expect(await bound(l.number)).toBe(true);
      expect((await loop.info(l.path)).autoclear).toBe(true);
    } finally {
      await holder.close();
    }
    expect(await bound(l.number)).toBe(false);
  });
});

describe('LOOP_SET_FD fallback', () => {
  test('configures the device like LOOP_CONFIGURE does', async () => {
    process.env.DEVMAPPER_LOOP_LEGACY = '1';
    const l = await track(4 * MiB, { offset: MiB, sizeLimit: 2 * MiB, blockSize: 2048, directIo: true, readOnly: true });
    const i = await loop.info(l.path);
    expect(i).toMatchObject({ offset: BigInt(MiB), sizeLimit: BigInt(2 * MiB), blockSize: 2048, directIo: true, readOnly: true });
    expect(await loop.blockDeviceSize(l.path)).toBe(BigInt(2 * MiB));
    const ac = await track(MiB, { autoclear: true });
    expect((await loop.info(ac.path)).autoclear).toBe(true);
    await ac.release!();
    expect(await bound(ac.number)).toBe(false);
  });

  const strace = spawnSync('strace', ['-V']).status === 0;
  test.skipIf(!strace)('the environment switch really takes LOOP_SET_FD instead of LOOP_CONFIGURE', async () => {
    const file = scratch('strace.img');
    await fs.writeFile(file, Buffer.alloc(MiB));
    const script = `const n = require('node-gyp-build')(${JSON.stringify(ROOT)});
      (async () => {
        const dev = '/dev/loop' + (await n.loopGetFree());
        await n.loopAttach(dev, ${JSON.stringify(file)}, { blockSize: 1024 });
        await n.loopDetach(dev);
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const trace = (legacy: string) => {
      const run = spawnSync('strace', ['-f', '-e', 'trace=ioctl', process.execPath, '-e', script], {
        env: { ...process.env, DEVMAPPER_LOOP_LEGACY: legacy },
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      return run.stderr;
    };
    const legacy = trace('1');
    expect(legacy).toMatch(/LOOP_SET_FD.*= 0/);
    expect(legacy).toMatch(/LOOP_SET_STATUS64.*= 0/);
    expect(legacy).toMatch(/LOOP_SET_BLOCK_SIZE, 1024\) = 0/);
    expect(legacy).not.toMatch(/LOOP_CONFIGURE/);
    const modern = trace('0');
    expect(modern).toMatch(/LOOP_CONFIGURE.*= 0/);
    expect(modern).not.toMatch(/LOOP_SET_FD/);
  });
});

describe('loop-control', () => {
  test('addDevice creates a device node and removeDevice removes it', async () => {
    let n = 900 + Math.floor(Math.random() * 5000);
    while (await fs.access(`/sys/block/loop${n}`).then(() => true, () => false)) n++;
    expect(await loop.addDevice(n)).toBe(n);
    try {
      await fs.access(`/sys/block/loop${n}`);
      await expect(loop.addDevice(n)).rejects.toMatchObject({ code: 'EEXIST', command: 'LOOP_CTL_ADD' });
    } finally {
      await loop.removeDevice(n);
    }
    await expect(fs.access(`/sys/block/loop${n}`)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('errors', () => {
  test('attaching a missing file fails with ENOENT naming the file, at the caller', async () => {
    const missing = path.join(testDir(), 'missing.img');
    const err = await loop.attach(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DmError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'open', command: 'LOOP_CONFIGURE', device: missing });
    expect((err as Error).message).toContain(missing);
    expect((err as Error).stack).toContain('loop.test.ts');
  });

  test('detaching a device that is not attached fails with ENXIO', async () => {
    const n = await loop.freeDevice();
    await expect(loop.detach(n)).rejects.toMatchObject({ name: 'DmError', code: 'ENXIO', command: 'LOOP_CLR_FD', device: `/dev/loop${n}` });
  });
});

describe('sweepLoops', () => {
  test('detaches devices of a crashed run and removes its dir, leaving live runs alone', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `dmtest-${dead.stdout}-`));
    const orphan = await loop.attach(path.join(dir, 'orphan.img'), { size: MiB });
    cleanups.push(async () => {
      await loop.detach(orphan.path).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    });
    const mine = await track(MiB);
    const swept = await sweepLoops();
    expect(swept).toContain(orphan.path);
    expect(swept).not.toContain(mine.path);
    expect(await bound(orphan.number)).toBe(false);
    expect(await bound(mine.number)).toBe(true);
    await expect(fs.access(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
