// A COW store is checked before anything is written to it. Refused: the device itself, the disk
// under it (by path, symlink or number), a device above it or sharing its disk, the whole disk of
// its partition and a partition of its disk, a disk in another table, a mounted disk, swap, the
// base, a file on its own filesystem, too small, not a block device. Each time: a StoreError (the
// right code) at step 'check cow', no device added or changed, the candidate's first 4 KiB as they
// were, and the origin's data intact (a live ext4 with a writer, fsck clean; checksums).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import * as ops from '../../src/ops';
import { OperationError, StoreError, type StoreProblem } from '../../src/ops';
import { sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { MiB, Writer, countRecords, deviceSum, fillPattern, fsck, mkfs, mount, umount } from '../helpers/ops';
import { assertBuilt, dmctl } from './cli-helpers';

const loops: TestLoop[] = [];
const mounted: string[] = [];
const swapsOn: string[] = [];
let seq = 0;

beforeAll(async () => {
  assertBuilt();
  await sweep(testName(''));
});
afterAll(async () => {
  for (const s of swapsOn) execFileSync('swapoff', [s]);
  for (const m of mounted.reverse()) umount(m);
  expect(await sweep(testName(''))).toEqual([]);
  while (loops.length) await loops.pop()!.cleanup();
  await removeTestDir();
});

async function disk(bytes: number, partscan = false): Promise<TestLoop> {
  const l = await makeLoop(bytes, { partscan });
  loops.push(l);
  return l;
}

async function linear(tag: string, dev: string, sectors: number, offset = 0): Promise<string> {
  const name = testName(tag);
  await dm.create(name);
  await dm.loadRawTable(name, [{ start: 0, length: sectors, type: 'linear', params: `${dev} ${offset}` }]);
  await dm.resume(name);
  return name;
}

/** A device and how many of its first bytes must stay as they are (where a COW header would go). */
type Head = string | [dev: string, bytes: number];

/** sha256 of the head, read past the page cache. */
function headSum(h: Head): string {
  const [dev, bytes] = typeof h === 'string' ? [h, 4096] : h;
  return execFileSync('sh', ['-c', `dd if='${dev}' bs=${bytes} count=1 iflag=direct status=none | sha256sum`], { encoding: 'utf8' }).split(' ')[0];
}

/** Every test device with its table and flags. */
function world(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of dm.listDevicesSync().filter((x) => x.name.startsWith(testName('')))) {
    const i = dm.infoSync(d.name);
    out[d.name] = `${dm.tableSync(d.name).map((t) => `${t.type} ${t.params}`).join(';')} s=${i.flags.suspended} i=${i.flags.inactivePresent}`;
  }
  return out;
}

const CODE: Record<StoreProblem, string> = {
  missing: 'ENOENT', 'not-block-device': 'EINVAL', 'in-stack': 'EBUSY', mounted: 'EBUSY', swap: 'EBUSY', claimed: 'EBUSY', open: 'EBUSY', 'too-small': 'EINVAL',
};

/** Runs an operation that must be refused at 'check cow'; nothing may change, the candidate's head included. */
async function refused(run: () => Promise<unknown>, problem: StoreProblem, message: RegExp, heads: Head[] = []): Promise<void> {
  const before = { world: world(), heads: heads.map(headSum) };
  const err = (await run().then(() => new Error('accepted'), (e: unknown) => e)) as OperationError;
  expect(err).toBeInstanceOf(OperationError);
  expect(err.step).toBe('check cow');
  expect(err.cause).toBeInstanceOf(StoreError);
  expect((err.cause as StoreError).problem).toBe(problem);
  expect(err.code).toBe(CODE[problem]);
  expect(err.message).toMatch(message);
  expect(err.state.asBefore).toBe(true);
  expect({ world: world(), heads: heads.map(headSum) }).toEqual(before);
}

describe('a COW store for divert, with the origin a mounted ext4 being written', () => {
  let a: TestLoop;
  let v: string;
  let dir: string;
  let writer: Writer;
  beforeAll(async () => {
    a = await disk(40 * MiB);
    v = await linear('v', a.path, 32 * 2048);
    mkfs(dm.nodePath(v));
    // ext4 never writes its first KiB (the superblock after it changes with every commit): a mark
    // there shows a COW header was never written over the disk.
    fillPattern(dm.nodePath(v), 'boot', 1024);
    dir = mount(dm.nodePath(v));
    writer = new Writer(path.join(dir, 'log'));
    await writer.advance(20);
  });
  afterAll(async () => {
    const synced = await writer.stop();
    const log = fs.readFileSync(path.join(dir, 'log'));
    umount(dir);
    expect(countRecords(log)).toBeGreaterThanOrEqual(synced);
    expect(fsck(dm.nodePath(v)).status).toBe(0);
    await expect(ops.describe(v)).resolves.toMatchObject({ state: 'plain' });
  });

  it('the device itself, by its /dev/mapper path', async () => {
    await refused(() => ops.divert(v, { cow: dm.nodePath(v) }), 'in-stack', /-v is .*-v itself/);
    await writer.advance(5);
  });

  it('the disk under it, by path, by a symlink and by major:minor; its ext4 superblock untouched', async () => {
    const link = path.join(testDir(), 'disk-link');
    fs.symlinkSync(a.path, link);
    const under = new RegExp(`${a.path} is under ${v} \\(${v} -> loop${a.number}\\)`);
    const head: Head = [a.path, 1024];
    await refused(() => ops.divert(v, { cow: a.path }), 'in-stack', under, [head]);
    await refused(() => ops.divert(v, { cow: link }), 'in-stack', /is under .*-v/, [head]);
    await refused(() => ops.divert(v, { cow: `${a.major}:${a.minor}` }), 'in-stack', /is under .*-v/, [head]);
    await writer.advance(5);
  });

  it('a device sharing its disk (another table over the rest of it)', async () => {
    const w = await linear('share', a.path, 8 * 2048, 32 * 2048);
    await refused(() => ops.divert(v, { cow: dm.nodePath(w) }), 'in-stack', new RegExp(`sits on loop${a.number} .*which is under .*-v`), [dm.nodePath(w)]);
    await dm.remove(w);
  });

  it('a file on its own filesystem is not created', async () => {
    const file = path.join(dir, 'self.cow');
    await refused(() => ops.divert(v, { cow: { file, size: '4M' } }), 'in-stack', /COW file .* is on a filesystem on .*-v/);
    expect(fs.existsSync(file)).toBe(false);
    await writer.advance(5);
  });

  it('a loop device backed by a file on its own filesystem', async () => {
    const l = await loop.attach(path.join(dir, 'loop.img'), { size: 4 * MiB });
    try {
      await refused(() => ops.divert(v, { cow: l.path }), 'in-stack', new RegExp(`sits on .*-v \\(loop${l.number} -> a file on .*-v\\), which is .*-v itself`), [l.path]);
    } finally {
      await loop.detach(l.path);
    }
    await writer.advance(5);
  });

  it('a disk in another table, naming the holder', async () => {
    const b = await disk(8 * MiB);
    const w = await linear('other', b.path, 8 * 2048);
    const dmN = path.basename(fs.realpathSync(`/sys/dev/block/${dm.infoSync(w).major}:${dm.infoSync(w).minor}`));
    await refused(() => ops.divert(v, { cow: b.path }), 'claimed', new RegExp(`claimed by another holder \\(${dmN}: ${w}\\)`), [b.path]);
    await dm.remove(w);
  });

  it('a disk a process has open without claiming it (as dd does), naming the process', async () => {
    const b = await disk(8 * MiB);
    const holder = spawn('sh', ['-c', `exec 3<>${b.path}; echo ready; exec sleep 60`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => holder.stdout!.once('data', r));
      await refused(() => ops.divert(v, { cow: b.path }), 'open', new RegExp(`is open in process ${holder.pid} \\(sleep\\)`), [b.path]);
    } finally {
      const gone = new Promise((r) => holder.once('exit', r));
      holder.kill('SIGKILL');
      await gone;
    }
  });

  it('a mounted disk', async () => {
    const c = await disk(16 * MiB);
    mkfs(c.path);
    const at = mount(c.path);
    mounted.push(at);
    await refused(() => ops.divert(v, { cow: c.path }), 'mounted', new RegExp(`mounted on ${at}`), [c.path]);
  });

  it('active swap', async () => {
    const s = await disk(8 * MiB);
    execFileSync('mkswap', [s.path], { stdio: 'pipe' });
    execFileSync('swapon', [s.path]);
    swapsOn.push(s.path);
    await refused(() => ops.divert(v, { cow: s.path }), 'swap', /is active swap/, [s.path]);
  });

  it('too small, not a block device, missing', async () => {
    const tiny = await disk(8192);
    await refused(() => ops.divert(v, { cow: tiny.path }), 'too-small', /too small: 8192 bytes, at least 16384/, [tiny.path]);
    const plainFile = path.join(testDir(), 'plain-file');
    fs.writeFileSync(plainFile, Buffer.alloc(MiB));
    await refused(() => ops.divert(v, { cow: plainFile }), 'not-block-device', /is not a block device/);
    await refused(() => ops.divert(v, { cow: '/dev/null' }), 'not-block-device', /is not a block device/);
    await refused(() => ops.divert(v, { cow: '/dev/nonexistent-cow' }), 'missing', /does not exist/);
  });

  it('dmctl divert --cow <the disk under it> exits 5 with one line; a non-device exits 2', async () => {
    const before = headSum([a.path, 1024]);
    const r = await dmctl(['divert', v, '--cow', a.path]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`^dmctl: divert failed at step "check cow": COW ${a.path} is under ${v} .*rolled back: every device is as before\\n$`));
    const tiny = await disk(4096);
    expect((await dmctl(['divert', v, '--cow', tiny.path])).code).toBe(2);
    expect(headSum([a.path, 1024])).toBe(before);
    await writer.advance(5);
  });
});

describe('a COW store for a snapshot of an origin', () => {
  let v: string;
  let sum: string;
  beforeAll(async () => {
    const a = await disk(8 * MiB);
    v = await linear('o', a.path, 8 * 2048);
    fillPattern(dm.nodePath(v), 'o', 8 * MiB);
    sum = deviceSum(dm.nodePath(v));
    await ops.createSnapshot(v, testName('s1'), { cow: { file: path.join(testDir(), `s${++seq}.cow`), size: '2M' } });
  });
  afterAll(async () => {
    await ops.removeSnapshot(testName('s1'));
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    await dm.remove(v);
  });

  it('the base, another snapshot of it (on the base), a device above it', async () => {
    const base = dm.nodePath(`${v}-dmbase`);
    await refused(() => ops.createSnapshot(v, testName('s2'), { cow: base }), 'in-stack', /-dmbase is under .*-o \(.*-o -> .*-o-dmbase\)/, [base]);
    await refused(() => ops.createSnapshot(v, testName('s2'), { cow: dm.nodePath(testName('s1')) }), 'in-stack', /-s1 sits on .*-o-dmbase/);
    const up = await linear('up', dm.nodePath(v), 8 * 2048);
    await refused(() => ops.createSnapshot(v, testName('s2'), { cow: dm.nodePath(up) }), 'in-stack', /-up sits on .*-o .*which is .*-o itself/);
    await dm.remove(up);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('partitions', () => {
  /** An MBR with two primary partitions (start, sectors). */
  async function partition(dev: string, parts: [number, number][]): Promise<void> {
    const mbr = Buffer.alloc(512);
    parts.forEach(([start, sectors], i) => {
      const e = 446 + i * 16;
      mbr[e + 4] = 0x83;
      mbr.writeUInt32LE(start, e + 8);
      mbr.writeUInt32LE(sectors, e + 12);
    });
    mbr.writeUInt16LE(0xaa55, 510);
    const fd = fs.openSync(dev, 'r+');
    fs.writeSync(fd, mbr, 0, 512, 0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    // Closing a written disk makes udev probe it (its watch), and a re-read fails with EBUSY while
    // the probe has it open: try again for a bounded time.
    for (let tries = 1; ; tries++) {
      const r = spawnSync('blockdev', ['--rereadpt', dev], { encoding: 'utf8' });
      if (r.status === 0) return;
      if (tries >= 50 || !/busy/i.test(r.stderr)) throw new Error(`blockdev --rereadpt ${dev}: ${r.stderr}`);
      await sleep(100);
    }
  }

  it('the whole disk of a partition under it and a partition of a disk under it are refused; another partition is taken', async () => {
    const p = await disk(16 * MiB, true);
    await partition(p.path, [[2048, 8192], [10240, 20480]]);
    const [p1, p2] = [`${p.path}p1`, `${p.path}p2`];
    for (let i = 0; i < 50 && !fs.existsSync(p2); i++) await new Promise((r) => setTimeout(r, 50));
    const onPart = await linear('p1', p1, 8192);
    await refused(() => ops.divert(onPart, { cow: p.path }), 'in-stack', new RegExp(`is the whole disk of loop${p.number}p1, which is under`), [p.path]);
    const d = await ops.divert(onPart, { cow: p2 });
    expect(d.cow.device).toBe(p2);
    await ops.discard(onPart);
    await dm.remove(onPart);
    const onWhole = await linear('whole', p.path, 2048);
    await refused(() => ops.divert(onWhole, { cow: p2 }), 'in-stack', new RegExp(`is a partition of loop${p.number}, which is under`), [p2]);
    await dm.remove(onWhole);
  });
});
