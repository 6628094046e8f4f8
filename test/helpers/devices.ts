// The setup and teardown every device-touching integration test file shares: loop devices, ext4
// mounts and writer children the tests track, released after each test, with a check that no
// dm device of this run is left behind.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { AttachOptions } from '../../src/loop';
import { PREFIX, sweep, testName } from './dm';
import { makeLoop, removeTestDir, type TestLoop } from './loop';
import path from 'node:path';
import * as dm from '../../src/dm';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Writer, countRecords, debugfsCat, fsck, mkfs, mount, umount } from './ops';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const MiB = 1024 * 1024;

export interface TestDevices {
  /** A fresh loop device (sparse file of `bytes`, default 16 MiB), cleaned up after the test. */
  loop(bytes?: number, opts?: Omit<AttachOptions, 'size'>): Promise<TestLoop>;
  /** Loop devices to clean up after the test (loop() adds to it). */
  loops: TestLoop[];
  /** Mount points to unmount after the test; pop one the test unmounts itself. */
  mounts: string[];
  /** Writers to stop after the test; pop one the test stops itself. */
  writers: Writer[];
  /** ext4 made on the dm device and mounted (tracked), with a writer appending to `log` in it
   *  (tracked) that has synced `records` records. */
  ext4WithWriter(device: string, records: number): Promise<{ mnt: string; w: Writer }>;
  /** ext4 made on the dm device and mounted (tracked), holding `data.bin` (2 MiB, random, synced)
   *  and nothing writing to it. */
  ext4WithData(device: string): { mnt: string; data: Buffer };
  /** Stops the writer (it must still be writing: no I/O error stopped it), checks every synced
   *  record is in the log, unmounts, fscks, and checks the log on the device has the checksum the
   *  writer's view of it had. */
  finishWriter(w: Writer, mnt: string, device: string): Promise<void>;
  /** A dm device of `mib` MiB over two segments of one loop device in swapped order, so that it
   *  cannot be a snapshot origin itself (operations must put a base under it). */
  twoSegmentDevice(tag: string, mib: number): Promise<{ name: string; loop: TestLoop }>;
  /** A dm device of `mib` MiB whose writes take `ms` each (a delay target over a fresh loop
   *  device): a migration to it lasts long enough to be met or interrupted. */
  slowDisk(mib: number, ms: number): Promise<{ path: string; name: string }>;
}

export interface TestDevicesOptions {
  /** Runs first in afterEach, before any cleanup: e.g. clear a fault hook or restore mocks. */
  beforeCleanup?: () => void | Promise<void>;
}

/**
 * Registers the file's hooks: beforeAll removes every test device left over (this run's or a
 * crashed one's); afterEach stops the tracked writers, unmounts the tracked mounts (one already
 * unmounted is fine), expects no dm device of this process to be left, and cleans up the tracked
 * loop devices; afterAll removes this process's temp dir. Call it once, at the top of the file.
 */
export function useTestDevices(o: TestDevicesOptions = {}): TestDevices {
  const loops: TestLoop[] = [];
  const mounts: string[] = [];
  const writers: Writer[] = [];

  beforeAll(async () => {
    await sweep(PREFIX);
  });

  afterEach(async () => {
    await o.beforeCleanup?.();
    while (writers.length) await writers.pop()!.stop();
    while (mounts.length) {
      try {
        umount(mounts.pop()!);
      } catch {
        /* already */
      }
    }
    expect(await sweep(testName(''))).toEqual([]);
    while (loops.length) await loops.pop()!.cleanup();
  });

  afterAll(removeTestDir);

  async function loop(bytes = 16 * MiB, opts: Omit<AttachOptions, 'size'> = {}): Promise<TestLoop> {
    const l = await makeLoop(bytes, opts);
    loops.push(l);
    return l;
  }

  async function ext4WithWriter(device: string, records: number): Promise<{ mnt: string; w: Writer }> {
    mkfs(dm.nodePath(device));
    const mnt = mount(dm.nodePath(device));
    mounts.push(mnt);
    const w = new Writer(path.join(mnt, 'log'));
    writers.push(w);
    await w.advance(records);
    return { mnt, w };
  }

  function ext4WithData(device: string): { mnt: string; data: Buffer } {
    mkfs(dm.nodePath(device));
    const mnt = mount(dm.nodePath(device));
    mounts.push(mnt);
    const data = randomBytes(2 * MiB);
    fs.writeFileSync(path.join(mnt, 'data.bin'), data);
    const fd = fs.openSync(path.join(mnt, 'data.bin'), 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    return { mnt, data };
  }

  async function finishWriter(w: Writer, mnt: string, device: string): Promise<void> {
    await w.advance(5);
    const n = await w.stop();
    if (writers.includes(w)) writers.splice(writers.indexOf(w), 1);
    const log = fs.readFileSync(path.join(mnt, 'log'));
    expect(countRecords(log)).toBeGreaterThanOrEqual(n);
    umount(mnt);
    if (mounts.includes(mnt)) mounts.splice(mounts.indexOf(mnt), 1);
    const f = fsck(dm.nodePath(device));
    expect(f.status, f.output).toBe(0);
    expect(sha(debugfsCat(dm.nodePath(device), '/log'))).toBe(sha(log));
  }

  async function twoSegmentDevice(tag: string, mib: number): Promise<{ name: string; loop: TestLoop }> {
    const l = await loop((mib + 8) * MiB);
    const half = (mib / 2) * 2048;
    const name = testName(tag);
    const seg = (sectors: number, offset: number, start: number) => ({ start, length: sectors, type: 'linear', params: `${l.path} ${offset}` });
    await dm.create(name);
    await dm.loadRawTable(name, [seg(half, half + 16384, 0), seg(half, 0, half)]);
    await dm.resume(name);
    return { name, loop: l };
  }

  let slow = 0;
  async function slowDisk(mib: number, ms: number): Promise<{ path: string; name: string }> {
    const l = await loop(mib * MiB);
    const name = testName(`slow${++slow}`);
    await dm.create(name);
    await dm.loadRawTable(name, [{ start: 0n, length: BigInt(mib * 2048), type: 'delay', params: `${l.path} 0 0 ${l.path} 0 ${ms}` }]);
    await dm.resume(name);
    return { path: dm.nodePath(name), name };
  }

  return { loop, loops, mounts, writers, ext4WithWriter, ext4WithData, finishWriter, twoSegmentDevice, slowDisk };
}
