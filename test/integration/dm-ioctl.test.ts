// Every dm-ioctl command against the real kernel (as root, in the QEMU rig), on loop devices.
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { DmError } from '../../src/errors';
import { DmCmd, native } from '../../src/native';
import { geometryOf, PREFIX, sweep, testName } from '../helpers/dm';
import { makeLoop } from '../helpers/loop';
import type { TestLoop } from '../helpers/loop';

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const loops: TestLoop[] = [];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  await sweep(PREFIX);
});

afterEach(async () => {
  // Close files and abort waits first, then remove devices, then detach their loop devices.
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  expect(await sweep(testName(''))).toEqual([]);
  while (loops.length) await loops.pop()!.cleanup();
});

async function loop(bytes = 8 * MiB): Promise<TestLoop> {
  const l = await makeLoop(bytes);
  loops.push(l);
  return l;
}

type T = dm.TargetInput;
async function device(tag: string, targets: T[], o: dm.CreateOptions = {}): Promise<string> {
  const name = testName(tag);
  await dm.create(name, o);
  await dm.loadRawTable(name, targets);
  await dm.resume(name);
  return name;
}
const zero = (sectors = 2048): T[] => [{ start: 0, length: sectors, type: 'zero', params: '' }];
const linear = (l: TestLoop, sectors = 2048, offset = 0): T[] => [{ start: 0, length: sectors, type: 'linear', params: `${l.path} ${offset}` }];

function open(name: string, flags: number = fs.constants.O_RDWR): number {
  const fd = fs.openSync(dm.nodePath(name), flags);
  cleanups.push(() => fs.closeSync(fd));
  return fd;
}

/** major:minor of the node at /dev/mapper/<name>, or undefined if there is none. */
function nodeDev(name: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(dm.nodePath(name));
  } catch {
    return undefined;
  }
  if (!st.isBlockDevice()) return 'not a block device';
  const d = BigInt(st.rdev);
  return `${Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn))}:${Number((d & 0xffn) | ((d >> 12n) & ~0xffn))}`;
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<DmError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(DmError);
    return err as DmError;
  }
  throw new Error('expected a DmError, but the call succeeded');
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(20)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

function exists(name: string): boolean {
  return dm.listDevicesSync().some((d) => d.name === name);
}

function within<X>(p: Promise<X>, ms: number, what: string): Promise<X> {
  return Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what} did not settle within ${ms} ms`)))]);
}

describe('VERSION', () => {
  it('reports interface 4.x, sync and async alike', async () => {
    const v = await dm.version();
    expect(v.major).toBe(4);
    expect(v.minor).toBeGreaterThanOrEqual(37);
    expect(dm.versionSync()).toEqual(v);
  });
});

describe('DEV_CREATE, DEV_STATUS, DEV_REMOVE', () => {
  it('creates a device with a uuid and its /dev/mapper node, then removes both', async () => {
    const name = testName('create');
    const uuid = `${PREFIX}uuid-${process.pid}-create`;
    const created = await dm.create(name, { uuid });
    expect(created).toMatchObject({ name, uuid, openCount: 0, targetCount: 0 });
    expect(created.flags).toMatchObject({ activePresent: false, inactivePresent: false });
    expect(nodeDev(name)).toBe(`${created.major}:${created.minor}`);
    expect(dm.infoSync({ uuid })).toMatchObject({ name, major: created.major, minor: created.minor });
    expect(await dm.info({ major: created.major, minor: created.minor })).toMatchObject({ name, uuid });
    expect(await dm.remove(name)).toEqual({ deferred: false });
    expect(nodeDev(name)).toBeUndefined();
    const err = await failure(dm.info(name));
    expect(err).toMatchObject({ code: 'ENXIO', command: 'DEV_STATUS', device: name });
  });

  it('creates a device with the minor number asked for', async () => {
    const name = testName('minor');
    const made = await dm.create(name, { minor: 4000 });
    expect(made.minor).toBe(4000);
    expect(nodeDev(name)).toBe(`${made.major}:4000`);
    // A minor in use is refused and nothing is made: ENXIO, not EBUSY (dm_create answers ENXIO
    // for any failure of alloc_dev, the minor's EBUSY among them).
    const err = await failure(dm.create(testName('minor2'), { minor: 4000 }));
    expect(err).toMatchObject({ code: 'ENXIO', command: 'DEV_CREATE', device: testName('minor2') });
    expect(exists(testName('minor2'))).toBe(false);
    expect((await dm.create(testName('minor3'), { minor: (1 << 20) - 1 })).minor).toBe((1 << 20) - 1);
  });

  it('refuses a second device of the same name with EBUSY', async () => {
    const name = testName('dup');
    await dm.create(name);
    const err = await failure(dm.create(name));
    expect(err).toMatchObject({ code: 'EBUSY', command: 'DEV_CREATE' });
  });

  it('removing an open device fails with EBUSY when retry is off, and the error points at this file', async () => {
    const name = await device('busy', zero());
    open(name, fs.constants.O_RDONLY);
    const err = await failure(dm.remove(name, { retry: false }));
    expect(err).toMatchObject({ code: 'EBUSY', errno: 16, command: 'DEV_REMOVE', device: name });
    expect(err.stack).toContain('dm-ioctl.test.ts');
    expect(exists(name)).toBe(true);
  });

  it('retries EBUSY until the opener lets go', async () => {
    const name = await device('retry', zero());
    const fd = fs.openSync(dm.nodePath(name), 'r');
    setTimeout(() => fs.closeSync(fd), 300);
    expect(await dm.remove(name, { retry: { attempts: 20, delayMs: 100 } })).toEqual({ deferred: false });
    expect(exists(name)).toBe(false);
  });

  it('deferred remove: an open device is flagged, and goes away when closed', async () => {
    const name = await device('deferred', zero());
    const fd = fs.openSync(dm.nodePath(name), 'r');
    try {
      expect(await dm.remove(name, { deferred: true })).toEqual({ deferred: true });
      expect(dm.infoSync(name).flags.deferredRemove).toBe(true);
      expect(exists(name)).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
    await until('the deferred removal', () => !exists(name));
  });
});

describe('createDevices, removeDevices: many devices in one native call', () => {
  it('creates, loads and resumes each with its node and read-only flag; a failing step removes what the call made', async () => {
    const names = ['many-a', 'many-b', 'many-c'].map(testName);
    const made = await dm.createDevices(names.map((name, i) => ({ name, uuid: `${PREFIX}uuid-${process.pid}-${i}`, table: zero(2048 * (i + 1)), readOnly: i === 1 })));
    expect(made.map((d) => [d.name, d.flags.activePresent, d.flags.suspended, nodeDev(d.name)])).toEqual(names.map((n, i) => [n, true, false, `${made[i]!.major}:${made[i]!.minor}`]));
    expect(dm.infoSync(names[1]!).flags.readOnly).toBe(true);
    expect(dm.tableSync(names[2]!)).toEqual([{ start: 0n, length: 6144n, type: 'zero', params: '' }]);
    await dm.removeDevices(names);
    expect(names.map(nodeDev)).toEqual([undefined, undefined, undefined]);
    expect(dm.listDevicesSync().filter((d) => names.includes(d.name))).toEqual([]);

    // The third device's table is refused by the kernel (no such target): the first two go again.
    const bad = ['fail-a', 'fail-b', 'fail-c'].map(testName);
    const err = await failure(dm.createDevices(bad.map((name, i) => ({ name, table: i === 2 ? [{ start: 0, length: 2048, type: 'no-such-target', params: '' }] : zero() }))));
    expect(err).toMatchObject({ command: 'TABLE_LOAD', device: bad[2] });
    expect(dm.listDevicesSync().filter((d) => bad.includes(d.name))).toEqual([]);
    expect(bad.map(nodeDev)).toEqual([undefined, undefined, undefined]);
  });
});

describe('DEV_STATUS on the calling thread', () => {
  // What the generic request/reply path decodes for the same device.
  const generic = (ref: { name: string } | { uuid: string } | { major: number; minor: number }) => {
    const r = native.dmIoctl(DmCmd.DEV_STATUS, ref);
    return { name: r.name, uuid: r.uuid, major: r.major, minor: r.minor, openCount: r.openCount, eventNr: r.eventNr, targetCount: r.targetCount, flags: r.flags };
  };
  const fast = (i: dm.DeviceInfo) => ({ ...i, flags: generic({ name: i.name }).flags });

  it('agrees with the generic decoder by name, uuid and dev_t, through renames, opens and a uuid set', async () => {
    const a = testName('fast-\u00e9t\u00e9');
    const made = await dm.create(a);
    const dev = { major: made.major, minor: made.minor };
    await dm.loadRawTable(a, zero());
    await dm.resume(a);
    expect(dm.infoSync(a)).toEqual({ ...generic({ name: a }), flags: dm.decodeFlags(generic({ name: a }).flags) });
    expect(fast(dm.infoSync(dev))).toEqual(generic(dev));
    const fd = open(a, fs.constants.O_RDONLY);
    expect(dm.infoSync(a).openCount).toBe(1);
    fs.closeSync(fd);
    cleanups.pop();
    expect(dm.infoSync(a).openCount).toBe(0);
    // The strings of the last reply are reused only while their bytes are unchanged.
    const b = testName('fast-b');
    await dm.rename(a, { name: b });
    expect(dm.infoSync(dev)).toMatchObject({ name: b, uuid: '' });
    const uuid = `${PREFIX}uuid-${process.pid}-fast`;
    await dm.rename(b, { uuid });
    expect(dm.infoSync(dev)).toMatchObject({ name: b, uuid });
    expect(await dm.info({ uuid })).toMatchObject({ name: b, uuid, ...dev });
    expect(fast(dm.infoSync({ uuid }))).toEqual(generic({ uuid }));
    await dm.suspend(b);
    expect(dm.infoSync(b).flags.suspended).toBe(true);
    await dm.resume(b);
  });

  it('fails with a DmError naming the device and this file, sync and async', async () => {
    const missing = testName('fast-missing');
    const e = await failure(() => dm.infoSync(missing));
    expect(e).toMatchObject({ code: 'ENXIO', command: 'DEV_STATUS', device: missing, syscall: 'ioctl' });
    expect(e.stack).toContain('dm-ioctl.test.ts');
    const a = await failure(dm.info({ major: 253, minor: 0xfffff }));
    expect(a).toMatchObject({ code: 'ENXIO', device: `253:${0xfffff}` });
    expect(a.stack).toContain('dm-ioctl.test.ts');
    expect(() => dm.infoSync('a/b')).toThrow(RangeError);
    expect(() => dm.infoSync({ uuid: 'u'.repeat(129) })).toThrow(RangeError);
  });

  it('each worker thread reads its own reply', async () => {
    const names = [await device('fast-w1', zero()), await device('fast-w2', zero())];
    // state[0]: 1 while the worker polls, 2 once it is done. Both threads poll at the same time.
    const state = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      const { parentPort, workerData: { name, state } } = require('node:worker_threads');
      const dm = require(${JSON.stringify(path.join(__dirname, '../../dist/api/dm'))});
      dm.infoSync(name);
      let wrong = 0;
      Atomics.store(state, 0, 1);
      for (let i = 0; i < 20000; i++) if (dm.infoSync(name).name !== name) wrong++;
      Atomics.store(state, 0, 2);
      parentPort.postMessage(wrong);`;
    const w = new Worker(code, { eval: true, workerData: { name: names[1], state } });
    const done = within(once(w, 'message'), 120_000, 'the worker polling');
    for (const end = Date.now() + 60_000; Atomics.load(state, 0) === 0 && Date.now() < end; ) Atomics.wait(state, 0, 0, 10);
    let wrong = 0;
    let n = 0;
    for (; Atomics.load(state, 0) === 1 || n < 1000; n++) if (dm.infoSync(names[0]).name !== names[0]) wrong++;
    const [theirs] = await done;
    expect({ wrong, theirs, overlapped: n > 1000 }).toEqual({ wrong: 0, theirs: 0, overlapped: true });
  });
});

describe('LIST_DEVICES', () => {
  it('lists devices with their dev_t, event numbers and uuids', async () => {
    const a = testName('list-a');
    const b = testName('list-b');
    const uuid = `${PREFIX}uuid-${process.pid}-list`;
    const ia = await dm.create(a, { uuid });
    const ib = await dm.create(b);
    const list = await dm.listDevices();
    const la = list.find((d) => d.name === a);
    const lb = list.find((d) => d.name === b);
    expect(la).toMatchObject({ major: ia.major, minor: ia.minor, eventNr: ia.eventNr, uuid });
    expect(lb).toMatchObject({ major: ib.major, minor: ib.minor, eventNr: ib.eventNr });
    expect(lb!.uuid).toBeUndefined();
    expect(dm.listDevicesSync()).toEqual(list);
  });

  it('lists 300 devices, growing the reply buffer from 1 KiB', async () => {
    const names = Array.from({ length: 300 }, (_, i) => testName(`many-${String(i).padStart(3, '0')}`));
    for (let i = 0; i < names.length; i += 20) await Promise.all(names.slice(i, i + 20).map((n) => dm.create(n, { node: false })));
    const raw = native.dmIoctl(DmCmd.LIST_DEVICES, { flags: dm.DmFlag.UUID, initialBufferSize: 1024 });
    expect(raw.retries).toBeGreaterThanOrEqual(4); // 300 records of ~48 bytes need 16 KiB
    const listed = new Set(dm.listDevicesSync({ initialBufferSize: 1024 }).map((d) => d.name));
    expect(names.filter((n) => !listed.has(n))).toEqual([]);
    const err = await failure(() => dm.listDevicesSync({ initialBufferSize: 1024, maxBufferSize: 2048 }));
    expect(err).toMatchObject({ code: 'ENOBUFS', command: 'LIST_DEVICES' });
  }, 300_000);
});

describe('DEV_RENAME', () => {
  it('renames, and the /dev/mapper node follows; then sets a uuid once', async () => {
    const a = testName('ren-a');
    const b = testName('ren-b');
    const made = await dm.create(a);
    const renamed = await dm.rename(a, { name: b });
    expect(renamed).toMatchObject({ name: b, major: made.major, minor: made.minor });
    expect(exists(a)).toBe(false);
    expect(nodeDev(a)).toBeUndefined();
    expect(nodeDev(b)).toBe(`${made.major}:${made.minor}`);
    const uuid = `${PREFIX}uuid-${process.pid}-ren`;
    expect((await dm.rename({ major: made.major, minor: made.minor }, { uuid })).uuid).toBe(uuid);
    expect(dm.infoSync({ uuid }).name).toBe(b);
    // An existing uuid cannot be changed.
    expect((await failure(dm.rename(b, { uuid: `${uuid}-2` }))).code).toBe('EINVAL');
  });

  it('refuses a name that is taken with EBUSY', async () => {
    const a = testName('taken-a');
    const b = testName('taken-b');
    await dm.create(a);
    await dm.create(b);
    expect(await failure(dm.rename(a, { name: b }))).toMatchObject({ code: 'EBUSY', command: 'DEV_RENAME' });
  });
});

describe('TABLE_LOAD, DEV_SUSPEND, I/O', () => {
  it('bytes written through a linear device land at its offset in the backing file', async () => {
    const l = await loop(8 * MiB);
    const name = await device('offset', linear(l, 2048, 4096));
    expect(native.blockDeviceSize(dm.nodePath(name))).toBe(2048n * 512n);
    const data = Buffer.alloc(4096);
    data.write(`devmapper offset test ${process.pid}`);
    const fd = fs.openSync(dm.nodePath(name), 'r+');
    fs.writeSync(fd, data, 0, data.length, 8192);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const back = Buffer.alloc(4096);
    const bf = fs.openSync(l.file, 'r');
    fs.readSync(bf, back, 0, back.length, 4096 * 512 + 8192);
    fs.closeSync(bf);
    expect(back.equals(data)).toBe(true);
  });

  it('a suspended device holds a write until resume', async () => {
    const l = await loop();
    const name = await device('suspend', linear(l));
    const fh = await fs.promises.open(dm.nodePath(name), fs.constants.O_RDWR | fs.constants.O_SYNC);
    cleanups.push(() => fh.close());
    const info = await dm.suspend(name);
    expect(info.flags.suspended).toBe(true);
    expect(dm.infoSync(name).flags.suspended).toBe(true);
    let written = false;
    const write = fh.write(Buffer.alloc(4096, 0xab), 0, 4096, 0).then(() => {
      written = true;
    });
    await sleep(700);
    expect(written).toBe(false);
    expect((await dm.resume(name)).flags.suspended).toBe(false);
    await within(write, 10_000, 'the held write');
    expect(written).toBe(true);
    const back = Buffer.alloc(4096);
    const bf = fs.openSync(l.file, 'r');
    fs.readSync(bf, back, 0, 4096, 0);
    fs.closeSync(bf);
    expect(back.every((x) => x === 0xab)).toBe(true);
  });

  it('suspend with noflush and skipLockfs, then resume', async () => {
    const name = await device('noflush', zero());
    expect((await dm.suspend(name, { noflush: true, skipLockfs: true })).flags.suspended).toBe(true);
    expect((await dm.resume(name)).flags.suspended).toBe(false);
  });

  it('keeps a loaded table inactive until resume; TABLE_CLEAR drops it', async () => {
    const name = await device('inactive', zero(2048));
    const loaded = await dm.loadRawTable(name, [{ start: 0, length: 4096, type: 'error', params: '' }]);
    expect(loaded.flags).toMatchObject({ activePresent: true, inactivePresent: true });
    expect(dm.tableSync(name)).toEqual([{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
    expect(dm.tableSync(name, { inactive: true })).toEqual([{ start: 0n, length: 4096n, type: 'error', params: '' }]);
    expect(await dm.deps(name, { inactive: true })).toEqual([]);
    const cleared = await dm.clearTable(name);
    expect(cleared.flags.inactivePresent).toBe(false);
    expect(dm.infoSync(name).flags.inactivePresent).toBe(false);
    expect(dm.tableSync(name)).toEqual([{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
    await dm.loadRawTable(name, [{ start: 0, length: 4096, type: 'error', params: '' }]);
    await dm.resume(name);
    expect(dm.tableSync(name)).toEqual([{ start: 0n, length: 4096n, type: 'error', params: '' }]);
    expect(native.blockDeviceSize(dm.nodePath(name))).toBe(4096n * 512n);
  });

  it('refuses a bad table line with EINVAL and changes nothing', async () => {
    const name = await device('badtable', zero());
    const before = dm.tableSync(name);
    const bad = await failure(dm.loadRawTable(name, [{ start: 0, length: 2048, type: 'linear', params: 'garbage' }]));
    expect(bad).toMatchObject({ code: 'EINVAL', command: 'TABLE_LOAD', device: name });
    expect((await failure(dm.loadRawTable(name, [{ start: 0, length: 8, type: 'nosuchtarget', params: '' }]))).code).toBe('EINVAL');
    expect(dm.infoSync(name).flags).toMatchObject({ activePresent: true, inactivePresent: false });
    expect(dm.tableSync(name)).toEqual(before);
  });

  it('a read-only table makes a read-only device', async () => {
    const name = testName('ro');
    await dm.create(name);
    await dm.loadRawTable(name, zero(), { readOnly: true });
    expect((await dm.resume(name)).flags.readOnly).toBe(true);
  });

  it('loads and reads back a table of 100,000 targets', async () => {
    const N = 100_000;
    const name = testName('big');
    const targets = Array.from({ length: N }, (_, i) => ({ start: i * 8, length: 8, type: i % 2 ? 'error' : 'zero', params: '' }));
    await dm.create(name);
    await dm.loadRawTable(name, targets);
    await dm.resume(name);
    expect(dm.infoSync(name).targetCount).toBe(N);
    const back = await dm.table(name);
    expect(back.length).toBe(N);
    expect(back.every((t, i) => t.start === BigInt(i * 8) && t.length === 8n && t.type === (i % 2 ? 'error' : 'zero'))).toBe(true);
    const raw = native.dmIoctl(DmCmd.TABLE_STATUS, { name });
    expect(raw.targets!.length).toBe(N);
    expect(raw.retries).toBeGreaterThanOrEqual(8); // ~4.8 MB from 16 KiB
    expect(native.blockDeviceSize(dm.nodePath(name))).toBe(BigInt(N * 8 * 512));
  }, 300_000);

  it('accepts the secure flag for load and table reads', async () => {
    const name = testName('secure');
    await dm.create(name);
    await dm.loadRawTable(name, zero(), { secure: true });
    await dm.resume(name);
    expect(await dm.table(name, { secure: true })).toEqual([{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
  });
});

describe('TABLE_DEPS, TABLE_STATUS', () => {
  it('deps name the loop device; table and status lines come back', async () => {
    const l = await loop();
    const name = await device('deps', linear(l, 1024, 8));
    expect(dm.depsSync(name)).toEqual([{ major: l.major, minor: l.minor }]);
    expect(await dm.deps(name)).toEqual([{ major: l.major, minor: l.minor }]);
    const line = { start: 0n, length: 1024n, type: 'linear' };
    expect(await dm.table(name)).toEqual([{ ...line, params: `${l.major}:${l.minor} 8` }]);
    expect(dm.statusSync(name)).toEqual([{ ...line, params: '' }]);
    expect(await dm.status(name, { noflush: true })).toEqual([{ ...line, params: '' }]);
  });
});

describe('LIST_VERSIONS, GET_TARGET_VERSION', () => {
  it('lists linear and snapshot, and GET_TARGET_VERSION agrees', async () => {
    const snap = await dm.targetVersion('snapshot'); // loads dm-snapshot if it is not yet
    const all = await dm.listVersions();
    const names = all.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['linear', 'snapshot', 'error']));
    expect(all.find((v) => v.name === 'snapshot')!.version).toEqual(snap);
    expect(dm.targetVersionSync('linear')).toEqual(all.find((v) => v.name === 'linear')!.version);
    expect(dm.listVersionsSync({ initialBufferSize: 64 }).map((v) => v.name)).toEqual(names);
    expect(await failure(dm.targetVersion('nosuchtarget'))).toMatchObject({ code: 'EINVAL', command: 'GET_TARGET_VERSION' });
  });
});

describe('TARGET_MSG, DEV_SET_GEOMETRY, DEV_ARM_POLL', () => {
  it('returns dm-stats output (DM_DATA_OUT_FLAG) and nothing when there is none', async () => {
    const name = await device('msg', zero(2048));
    const id = await dm.targetMessage(name, 0, '@stats_create - /4');
    expect(id).toMatch(/^\d+$/);
    expect(await dm.targetMessage(name, 0, '@stats_list')).toMatch(new RegExp(`^${id}: 0\\+2048 512 `));
    expect(await dm.targetMessage(name, 0, `@stats_delete ${id}`)).toBeUndefined();
    const err = await failure(dm.targetMessage(name, 0, 'hello'));
    expect(err).toMatchObject({ code: 'EINVAL', command: 'TARGET_MSG' });
  });

  it('sets a geometry, and refuses a start beyond it', async () => {
    const name = await device('geo', zero(2048));
    await dm.setGeometry(name, { cylinders: 2, heads: 4, sectors: 32, start: 0 });
    expect(geometryOf(name)).toEqual({ cylinders: 2, heads: 4, sectors: 32, start: 0 });
    await dm.setGeometry(name, { cylinders: 3, heads: 255, sectors: 63, start: 7n });
    expect(geometryOf(name)).toEqual({ cylinders: 3, heads: 255, sectors: 63, start: 7 });
    const err = await failure(dm.setGeometry(name, { cylinders: 1, heads: 1, sectors: 1, start: 5 }));
    expect(err).toMatchObject({ code: 'EINVAL', command: 'DEV_SET_GEOMETRY' });
    expect(geometryOf(name)).toEqual({ cylinders: 3, heads: 255, sectors: 63, start: 7 });
  });

  it('arms the control fd', () => {
    const seen: dm.IoctlSeen[] = [];
    dm.setIoctlObserver((s) => seen.push(s));
    try {
      expect(dm.armPoll()).toBeUndefined();
    } finally {
      dm.setIoctlObserver();
    }
    expect(seen).toEqual([{ cmd: 'DEV_ARM_POLL', flags: 0, secure: false }]);
  });
});

describe('DEV_WAIT', () => {
  it('resolves at once when the event number already differs', async () => {
    const name = await device('waitnow', zero());
    const { eventNr } = dm.infoSync(name);
    const r = await within(dm.waitEvent(name, { eventNr: eventNr + 1 }), 10_000, 'waitEvent');
    expect(r.info).toMatchObject({ name, eventNr });
    expect(r.targets).toEqual([{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
    expect((await dm.waitEvent(name, { eventNr: eventNr + 1, table: true })).targets.length).toBe(1);
  });

  it('resolves when a persistent snapshot overflows (a real device event)', async () => {
    await dm.targetVersion('snapshot');
    const origin = await loop(8 * MiB);
    const cow = await loop(64 * 1024);
    const name = await device('snap', [{ start: 0, length: 16384, type: 'snapshot', params: `${origin.path} ${cow.path} P 8` }]);
    const before = dm.infoSync(name).eventNr;
    expect(dm.statusSync(name)[0].params).toMatch(/^\d+\/\d+ \d+$/);
    const waiting = dm.waitEvent(name);
    const fh = await fs.promises.open(dm.nodePath(name), fs.constants.O_RDWR | fs.constants.O_SYNC);
    cleanups.push(() => fh.close());
    await fh.write(Buffer.alloc(MiB, 0x5a), 0, MiB, 0).catch(() => undefined); // EIO once invalid
    const r = await within(waiting, 30_000, 'the overflow event');
    expect(r.info.eventNr).toBeGreaterThan(before);
    expect(r.targets).toEqual([{ start: 0n, length: 16384n, type: 'snapshot', params: 'Invalid' }]);
    expect(dm.listDevicesSync().find((d) => d.name === name)!.eventNr).toBe(r.info.eventNr);
  }, 120_000);

  it('is cancelled through an AbortSignal with ECANCELED', async () => {
    const name = await device('cancel', zero());
    const ac = new AbortController();
    const waiting = dm.waitEvent(name, { signal: ac.signal });
    await sleep(200);
    ac.abort();
    const err = await within(failure(waiting), 5000, 'the cancelled wait');
    expect(err).toMatchObject({ code: 'ECANCELED', command: 'DEV_WAIT', device: name });
    expect(err.stack).toContain('dm-ioctl.test.ts');
  });

  it('rejects with ENXIO when the device is removed while waiting', async () => {
    const name = await device('gone', zero());
    const waiting = failure(dm.waitEvent(name));
    await sleep(200);
    await dm.remove(name);
    expect((await within(waiting, 10_000, 'the wait on a removed device')).code).toBe('ENXIO');
  });

  it('a worker terminated in the middle of a wait shuts down without hanging', async () => {
    const name = await device('worker', zero());
    const addon = path.join(__dirname, '../../build/Release/devmapper.node');
    const code = `
      const { parentPort } = require('node:worker_threads');
      const n = require(${JSON.stringify(addon)});
      n.dmWait({ name: ${JSON.stringify(name)}, eventNr: ${dm.infoSync(name).eventNr} }).promise.catch(() => {});
      parentPort.postMessage('waiting');`;
    const w = new Worker(code, { eval: true });
    await within(once(w, 'message'), 10_000, 'the worker starting its wait');
    await within(w.terminate(), 10_000, 'terminating the worker');
  });

  it('many waits at once do not starve the libuv pool', async () => {
    const name = await device('manywaits', zero());
    const acs = Array.from({ length: 8 }, () => new AbortController());
    const waits = acs.map((ac) => failure(dm.waitEvent(name, { signal: ac.signal })));
    cleanups.push(() => acs.forEach((ac) => ac.abort()));
    // With 8 waits parked, pool work (4 threads by default) still runs.
    expect(await within(dm.status(name), 5000, 'an async TABLE_STATUS while waits are parked')).toHaveLength(1);
    acs.forEach((ac) => ac.abort());
    for (const w of waits) expect((await within(w, 5000, 'a cancelled wait')).code).toBe('ECANCELED');
  });
});

describe('REMOVE_ALL', () => {
  it('removes every idle device and defers open ones', async (ctx) => {
    const foreign = dm.listDevicesSync().filter((d) => !d.name.startsWith(PREFIX));
    if (foreign.length)
      ctx.skip(`REMOVE_ALL would remove devices this test did not make: ${foreign.map((d) => d.name).join(', ')}`);
    const idle = [await device('all-1', zero()), await device('all-2', zero())];
    const held = await device('all-held', zero());
    const fd = fs.openSync(dm.nodePath(held), 'r');
    try {
      await dm.removeAll();
      expect(idle.filter(exists)).toEqual([]);
      expect(exists(held)).toBe(true);
      await dm.removeAll({ deferred: true });
      expect(dm.infoSync(held).flags.deferredRemove).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
    await until('the deferred removal', () => !exists(held));
  });
});
