// udev cooperation on the real kernel with systemd-udevd and Debian's device-mapper rules: the
// links a user's device gets (as dmsetup's), what hidden devices and snapshots get, many quick
// create/remove cycles, and udev stopped mid-test. Where the rig did not start udev, this file
// starts systemd-udevd itself and stops it after, so it never skips.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { testDir } from '../helpers/loop';
import { mkfs } from '../helpers/ops';

const { loop, twoSegmentDevice } = useTestDevices();
const env = { ...process.env, SYSTEMD_IGNORE_CHROOT: '1' };
const UDEVD = ['/usr/lib/systemd/systemd-udevd', '/lib/systemd/systemd-udevd'].find((p) => fs.existsSync(p));

function udevadm(...args: string[]): void {
  const r = spawnSync('udevadm', args, { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`udevadm ${args.join(' ')}: ${r.stderr}`);
}
const settle = (): void => udevadm('settle', '--timeout=60');

/** Every systemd-udevd process (the daemon and its workers), by pid. */
function udevdPids(): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'systemd-udevd';
    } catch {
      return false;
    }
  }).map(Number);
}

/** The udevd this file started, and whether udev ran before it (then one is left running). */
let ours: ChildProcess | undefined;
let ranBefore = false;

async function startUdev(): Promise<void> {
  if (!UDEVD) throw new Error('systemd-udevd is not installed (the rig copies it into the guest)');
  ours = spawn(UDEVD, [], { env, stdio: 'ignore', detached: true });
  ours.unref();
  for (let i = 0; i < 500 && !(await dm.udevRunning()); i++) await new Promise((r) => setTimeout(r, 20));
  expect(await dm.udevRunning()).toBe(true);
  udevadm('trigger', '--action=add', '--subsystem-match=block');
  settle();
}

function killUdev(): void {
  for (const pid of udevdPids()) process.kill(pid, 'SIGKILL');
  ours = undefined;
}

beforeAll(async () => {
  ranBefore = await dm.udevRunning();
  if (!ranBefore) await startUdev();
}, 60_000);

afterAll(() => {
  if (ranBefore) return;
  // As the guest was: no udevd, and no control socket left for kpartx or lvm to wait on forever.
  killUdev();
  fs.rmSync('/run/udev/control', { force: true });
});

/** The kernel's disk name of a dm device: dm-N. */
const diskOf = (name: string): string => path.basename(fs.realpathSync(`/sys/dev/block/${dm.infoSync(name).major}:${dm.infoSync(name).minor}`));
/** Where a /dev link leads (dm-N, vda …), or undefined when there is none. */
function linkTarget(p: string): string | undefined {
  try {
    return path.basename(fs.realpathSync(p));
  } catch {
    return undefined;
  }
}
/** /dev/mapper/<name> is the device's node (udev's symlink or a node of our own). */
function nodeIsDevice(name: string): boolean {
  const st = fs.statSync(dm.nodePath(name));
  const i = dm.infoSync(name);
  return st.isBlockDevice() && st.rdev === fs.statSync(`/dev/${diskOf(name)}`).rdev && i.name === name;
}
function fsUuid(dev: string): string {
  const r = spawnSync('blkid', ['-p', '-o', 'value', '-s', 'UUID', dev], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}
/** The /dev links udev's database lists for a dm device. */
function udevLinks(name: string): string[] {
  const i = dm.infoSync(name);
  const db = fs.readFileSync(`/run/udev/data/b${i.major}:${i.minor}`, 'utf8');
  return db.split('\n').filter((l) => l.startsWith('S:')).map((l) => l.slice(2));
}
const diskLinks = (name: string): string[] => udevLinks(name).filter((l) => l.startsWith('disk/'));

/** Opens `dev` read-only in another process for `ms`, as blkid does when udev probes a device;
 *  resolves once it is open. */
async function holdOpen(dev: string, ms: number): Promise<ChildProcess> {
  // Closed by the holder itself after `ms`: not at its exit, which a loaded guest can delay by a second.
  const code = `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'r'); process.stdout.write('open'); setTimeout(() => fs.closeSync(fd), ${ms})`;
  const c = spawn(process.execPath, ['-e', code, dev], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    c.stdout!.once('data', resolve);
    c.once('exit', (status) => reject(new Error(`the holder of ${dev} exited (${status})`)));
  });
  return c;
}

describe('udev: links', () => {
  it("a user's device gets /dev/mapper/<name> from udev and /dev/disk/by-uuid after mkfs, as one made by dmsetup", async () => {
    const { name: v } = await twoSegmentDevice('v', 32);
    expect(fs.lstatSync(dm.nodePath(v)).isSymbolicLink()).toBe(true); // udev's, not a mknod
    mkfs(dm.nodePath(v));
    settle();
    const uuid = fsUuid(dm.nodePath(v));
    expect(linkTarget(`/dev/disk/by-uuid/${uuid}`)).toBe(diskOf(v));
    expect(udevLinks(v)).toEqual(expect.arrayContaining([`mapper/${v}`, `disk/by-id/dm-name-${v}`, `disk/by-uuid/${uuid}`]));
  });

  it('the by-uuid link stays with the volume through divert, merge, discard, snapshot create/remove/rollback', async () => {
    const { name: v } = await twoSegmentDevice('v', 32);
    mkfs(dm.nodePath(v));
    settle();
    const uuid = fsUuid(dm.nodePath(v));
    const byUuid = `/dev/disk/by-uuid/${uuid}`;
    const check = (what: string): void => {
      settle();
      expect(linkTarget(byUuid), `after ${what}`).toBe(diskOf(v));
      expect(linkTarget(dm.nodePath(v)), `after ${what}`).toBe(diskOf(v));
    };
    const cow = (tag: string): { file: string; size: string } => ({ file: path.join(testDir(), `${tag}.cow`), size: '16M' });

    const d = await ops.divert(v, { cow: cow('d1') });
    check('divert');
    // The frozen base has the volume's filesystem (same UUID) but no disk links at all.
    expect(fsUuid(d.base.path)).toBe(uuid);
    expect(fs.existsSync(d.base.path)).toBe(true);
    expect(diskLinks(d.base.name)).toEqual([]);
    await ops.merge(v);
    check('merge');
    await ops.divert(v, { cow: cow('d2') });
    check('second divert');
    await ops.discard(v);
    check('discard');

    const s = testName('s');
    const snap = await ops.createSnapshot(v, s, { cow: cow('s') });
    check('snapshot create');
    expect(diskLinks(snap.base)).toEqual([]);
    // The snapshot is probed (its links are there) but at low priority: the volume keeps by-uuid.
    expect(fs.readFileSync(`/run/udev/data/b${dm.infoSync(s).major}:${dm.infoSync(s).minor}`, 'utf8')).toContain('E:DM_UDEV_LOW_PRIORITY_FLAG=1');
    expect(linkTarget(`/dev/disk/by-id/dm-name-${s}`)).toBe(diskOf(s));
    const s2 = testName('s2');
    await ops.createSnapshot(v, s2, { cow: cow('s2') });
    await ops.removeSnapshot(s2);
    check('snapshot remove');
    expect(fs.existsSync(dm.nodePath(s2))).toBe(false);
    await ops.rollback(s);
    check('rollback');
    expect(fs.existsSync(dm.nodePath(s))).toBe(false);
  }, 120_000);

  it('explicit flags: a device resumed as hidden gets /dev/mapper but no disk links; rename moves the link', async () => {
    const l = await loop(8 * 1024 * 1024);
    const n = testName('h');
    await dm.create(n);
    await dm.loadRawTable(n, [{ start: 0n, length: 16384n, type: 'linear', params: `${l.path} 0` }]);
    await dm.resume(n, { udev: 'hidden' });
    settle();
    expect(udevLinks(n)).toEqual([`mapper/${n}`]);
    await expect(dm.resume(n, { udev: 'bogus' as never })).rejects.toThrow(TypeError);
    await expect(dm.remove(n, { udev: 0x10000 })).rejects.toThrow(RangeError);
    expect(dm.infoSync(n).name).toBe(n); // refused before any ioctl

    const m = testName('h2');
    await dm.rename(n, { name: m }, { udev: 'hidden' });
    expect(linkTarget(dm.nodePath(m))).toBe(diskOf(m));
    expect(fs.existsSync(dm.nodePath(n))).toBe(false);
    settle();
    expect(udevLinks(m)).toEqual([`mapper/${m}`]);
    await dm.remove(m);
    expect(fs.existsSync(dm.nodePath(m))).toBe(false);
  });
});

describe('udev: churn and failure', () => {
  it('50 create/resume/remove cycles leave no node, no link and no device behind', async () => {
    const l = await loop(8 * 1024 * 1024);
    const prefix = testName('c');
    for (let i = 0; i < 50; i++) {
      const n = `${prefix}${i}`;
      await dm.create(n);
      await dm.loadRawTable(n, [{ start: 0n, length: 16384n, type: 'linear', params: `${l.path} 0` }]);
      await dm.resume(n);
      expect(linkTarget(dm.nodePath(n))).toBe(diskOf(n));
      await dm.remove(n, { retry: false });
      expect(fs.existsSync(dm.nodePath(n))).toBe(false);
    }
    settle();
    expect(dm.listDevicesSync().filter((d) => d.name.startsWith(prefix))).toEqual([]);
    expect(fs.readdirSync(dm.MAPPER_DIR).filter((e) => e.startsWith(prefix))).toEqual([]);
    const byId = fs.existsSync('/dev/disk/by-id') ? fs.readdirSync('/dev/disk/by-id') : []; // udev drops empty dirs
    expect(byId.filter((e) => e.includes(prefix))).toEqual([]);
  }, 480_000);

  it("an open as brief as udev's probe is waited out by discard and snapshot remove; an open that stays is refused", async () => {
    const { name: v } = await twoSegmentDevice('v', 32);
    const cow = (tag: string): { file: string; size: string } => ({ file: path.join(testDir(), `${tag}.cow`), size: '16M' });
    await ops.divert(v, { cow: cow('p1') });
    await holdOpen(dm.nodePath(v), 400);
    await ops.discard(v);
    // Discard's resume sends udev a change event, and udev's probe of it opens v in turn.
    expect(await dm.settledOpenCount(v)).toBe(0);

    await ops.divert(v, { cow: cow('p2') });
    const holder = await holdOpen(dm.nodePath(v), 60_000);
    await expect(ops.discard(v)).rejects.toThrow(/is open \(1\): unmount it first/);
    expect((await ops.describe(v)).state).toBe('diverted');
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    await ops.discard(v);

    const s = testName('s');
    await ops.createSnapshot(v, s, { cow: cow('s') });
    await holdOpen(dm.nodePath(s), 400);
    await ops.removeSnapshot(s);
    expect(dm.infoOrNone(s)).toBeUndefined();
  }, 120_000);

  it('udev killed mid-test: nothing waits forever, nodes are made and removed by us, and udev takes over again', async () => {
    const l = await loop(8 * 1024 * 1024);
    const prefix = testName('k');
    const cycle = async (n: string): Promise<void> => {
      await dm.create(n);
      await dm.loadRawTable(n, [{ start: 0n, length: 16384n, type: 'linear', params: `${l.path} 0` }]);
      await dm.resume(n);
      expect(nodeIsDevice(n)).toBe(true);
      await dm.rename(n, { name: `${n}r` });
      expect(nodeIsDevice(`${n}r`)).toBe(true);
      await dm.remove(`${n}r`);
      expect(fs.existsSync(dm.nodePath(`${n}r`))).toBe(false);
      expect(fs.existsSync(dm.nodePath(n))).toBe(false);
    };
    // Killed while cycles run: each goes on within a bounded time.
    const t0 = Date.now();
    const running = (async () => {
      for (let i = 0; i < 10; i++) await cycle(`${prefix}a${i}`);
    })();
    setTimeout(killUdev, 300);
    await running;
    killUdev();
    expect(fs.existsSync('/run/udev/control')).toBe(true); // stale: udevd died without cleaning up
    expect(await dm.udevRunning()).toBe(false);
    // With udev dead: block nodes of our own, made at once (no waiting for a udev that is gone).
    const t1 = Date.now();
    await cycle(`${prefix}b`);
    expect(Date.now() - t1).toBeLessThan(5000);
    const n = `${prefix}c`;
    await dm.create(n);
    await dm.loadRawTable(n, [{ start: 0n, length: 16384n, type: 'linear', params: `${l.path} 0` }]);
    await dm.resume(n);
    expect(fs.lstatSync(dm.nodePath(n)).isBlockDevice()).toBe(true);
    await dm.remove(n);
    expect(Date.now() - t0).toBeLessThan(60_000);

    // udev back: it makes the links again.
    await startUdev();
    const m = `${prefix}d`;
    await dm.create(m);
    await dm.loadRawTable(m, [{ start: 0n, length: 16384n, type: 'linear', params: `${l.path} 0` }]);
    await dm.resume(m);
    expect(fs.lstatSync(dm.nodePath(m)).isSymbolicLink()).toBe(true);
    await dm.remove(m);
    settle();
    expect(fs.readdirSync(dm.MAPPER_DIR).filter((e) => e.startsWith(prefix))).toEqual([]);
  }, 120_000);
});
