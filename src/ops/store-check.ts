// A device given as a store (a COW now; backup and migration destinations later) is checked before
// anything is written to it. Device-mapper lets several tables claim one disk, so the kernel would
// accept the disk under the very device being diverted: the store's header then overwrites its data.
// Refused: the device served itself, anything in its stack (below, or above: a store sitting on it),
// a partition or whole disk of a disk in that stack, a store backed by a file on any of these, a
// mounted or swap device, one claimed by anything (an O_EXCL open fails with EBUSY), one a process
// has open without claiming it (dd, a backup tool: found in /proc/*/fd), one too small.
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../dm';
import * as loop from '../loop';
import { decodeDev, formatDevNum, parseDevNum, type DevNum } from '../table';
import { mounts, swaps } from './mounts';
import { pathOf } from './kernel';
import { listDir, readTrimmed } from '../sysfs';

/** Why a COW store was refused. */
export type StoreProblem = 'missing' | 'not-block-device' | 'in-stack' | 'mounted' | 'swap' | 'claimed' | 'open' | 'too-small';

const CODES: Record<StoreProblem, string> = {
  missing: 'ENOENT',
  'not-block-device': 'EINVAL',
  'in-stack': 'EBUSY',
  mounted: 'EBUSY',
  swap: 'EBUSY',
  claimed: 'EBUSY',
  open: 'EBUSY',
  'too-small': 'EINVAL',
};

/** A store refused before anything was written: `code` is EBUSY when something uses it (the stack
 *  of the device it would serve, a mount, swap, another holder), EINVAL for bad input (not a block
 *  device, too small), ENOENT when there is no such device. */
export class StoreError extends Error {
  /** Always `'StoreError'`. */
  override name = 'StoreError';
  /** EBUSY, EINVAL or ENOENT, from the problem. */
  readonly code: string;
  constructor(readonly store: string, readonly problem: StoreProblem, message: string) {
    super(message);
    this.code = CODES[problem];
  }
}

export interface StoreCheck {
  /** The dm device the store will serve (its stack is off limits). */
  serves: string;
  /** The smallest acceptable size in bytes. */
  minBytes: bigint;
  /** What the store is, for messages: 'COW', 'destination'. */
  role?: string;
}

export interface CheckedStore {
  /** A node of the device (the path given, or /dev/... for a "major:minor"). */
  path: string;
  num: DevNum;
  bytes: bigint;
}

const key = formatDevNum;
const sys = (k: string, ...rest: string[]): string => path.join('/sys/dev/block', k, ...rest);

const read = readTrimmed;
const list = listDir;

/** "M:m" of a kernel block device name (dm-3, loop0p1). */
const keyOfName = (name: string): string | undefined => read(`/sys/class/block/${name}/dev`);

/** The kernel's name: loop0, sda1, dm-3. */
function kernelName(k: string): string {
  try {
    return path.basename(fs.realpathSync(sys(k)));
  } catch {
    return k;
  }
}

/** The dm name, else the kernel's name. */
const label = (k: string): string => read(sys(k, 'dm', 'name')) || kernelName(k);

/** The whole disk of a partition. */
function parentDisk(k: string): string | undefined {
  if (read(sys(k, 'partition')) === undefined) return undefined;
  try {
    // sysfs puts a partition inside its disk's directory (path.join would drop the link, not follow it).
    return read(path.join(path.dirname(fs.realpathSync(sys(k))), 'dev'));
  } catch {
    return undefined;
  }
}

function partitionsOf(k: string): string[] {
  let dir: string;
  try {
    dir = fs.realpathSync(sys(k));
  } catch {
    return [];
  }
  return list(dir)
    .filter((e) => read(path.join(dir, e, 'partition')) !== undefined)
    .flatMap((e) => read(path.join(dir, e, 'dev')) ?? []);
}

/** Devices the device's tables use: TABLE_DEPS of live and inactive tables for dm, sysfs slaves otherwise. */
function depsOf(k: string): string[] {
  const num = parseDevNum(k)!;
  if (read(sys(k, 'dm', 'name')) !== undefined) {
    try {
      const out = dm.depsSync(num).map(key);
      if (dm.infoSync(num).flags.inactivePresent) out.push(...dm.depsSync(num, { inactive: true }).map(key));
      return out;
    } catch {
      // gone meanwhile: sysfs below says the same
    }
  }
  return list(sys(k, 'slaves')).flatMap((n) => keyOfName(n) ?? []);
}

const holdersOf = (k: string): string[] => list(sys(k, 'holders')).flatMap((n) => keyOfName(n) ?? []);

/** The device holding a loop device's backing file (a filesystem on it writes there). */
async function backingOf(k: string): Promise<string | undefined> {
  if (read(sys(k, 'loop', 'backing_file')) === undefined) return undefined;
  try {
    const i = await loop.info(pathOf(parseDevNum(k)!));
    return fsDevice(i.backingDevice);
  } catch {
    return undefined;
  }
}

/** The block device of a filesystem by st_dev; filesystems with anonymous numbers (btrfs) by their mount source. */
function fsDevice(stDev: bigint): string | undefined {
  const d = decodeDev(stDev);
  if (d.major !== 0) return key(d);
  const source = mounts().find((m) => m.dev === key(d))?.source;
  try {
    const st = source?.startsWith('/') ? fs.statSync(source, { bigint: true }) : undefined;
    return st?.isBlockDevice() ? key(decodeDev(st.rdev)) : undefined;
  } catch {
    return undefined;
  }
}

/** Every device off limits for a store of `serves`, with why: itself, its stack below (chain from
 *  the top), and the partitions / whole disks of disks in that stack. */
function forbidden(serves: string): Map<string, string> {
  const top = key(dm.infoSync(serves));
  const out = new Map<string, string>([[top, `is ${serves} itself`]]);
  const queue: { k: string; chain: string[] }[] = [{ k: top, chain: [serves] }];
  while (queue.length) {
    const { k, chain } = queue.shift()!;
    for (const d of depsOf(k)) {
      if (out.has(d)) continue;
      const c = [...chain, label(d)];
      out.set(d, `is under ${serves} (${c.join(' -> ')})`);
      queue.push({ k: d, chain: c });
    }
  }
  for (const [k, why] of [...out]) {
    const name = label(k);
    const whole = parentDisk(k);
    if (whole && !out.has(whole)) out.set(whole, `is the whole disk of ${name}, which ${why}`);
    for (const p of partitionsOf(k)) if (!out.has(p)) out.set(p, `is a partition of ${name}, which ${why}`);
  }
  return out;
}

/** Walks down from `start` (through tables and loop backing files) to the first forbidden device. */
async function conflict(start: string, off: Map<string, string>): Promise<string | undefined> {
  const seen = new Set<string>([start]);
  const queue: { k: string; chain: string[] }[] = [{ k: start, chain: [label(start)] }];
  while (queue.length) {
    const { k, chain } = queue.shift()!;
    const why = off.get(k);
    if (why) return chain.length === 1 ? why : `sits on ${label(k)} (${chain.join(' -> ')}), which ${why}`;
    const back = await backingOf(k);
    const next = [...depsOf(k).map((d) => ({ d, via: label(d) })), ...(back ? [{ d: back, via: `a file on ${label(back)}` }] : [])];
    for (const { d, via } of next) {
      if (seen.has(d)) continue;
      seen.add(d);
      queue.push({ k: d, chain: [...chain, via] });
    }
  }
  return undefined;
}

/** The device and everything above it (its partitions, holders of either, recursively), each with
 *  the words a message adds for it. */
function above(k: string): Map<string, string> {
  const out = new Map<string, string>([[k, '']]);
  const queue = [k, ...partitionsOf(k)];
  for (const p of queue.slice(1)) out.set(p, ` (its partition ${label(p)})`);
  while (queue.length) {
    const x = queue.shift()!;
    for (const h of holdersOf(x)) {
      if (out.has(h)) continue;
      out.set(h, ` (through ${label(h)})`);
      queue.push(h);
    }
  }
  return out;
}

function resolve(store: string, role: string): { path: string; num: DevNum } {
  const given = parseDevNum(store);
  if (given) return { path: pathOf(given), num: given };
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(store, { bigint: true });
  } catch (err) {
    throw new StoreError(store, 'missing', `${role} ${store} does not exist (${(err as NodeJS.ErrnoException).code})`);
  }
  if (!st.isBlockDevice()) throw new StoreError(store, 'not-block-device', `${role} ${store} is not a block device`);
  return { path: store, num: decodeDev(st.rdev) };
}

/** Throws StoreError EBUSY when anything holds the device exclusively, naming holders sysfs shows. */
function checkUnclaimed(store: string, role: string, node: string, k: string): void {
  let fd: number;
  try {
    fd = fs.openSync(node, fs.constants.O_RDONLY | fs.constants.O_EXCL);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') throw new StoreError(store, 'missing', `${role} ${store} has no device behind it (${code})`);
    if (code !== 'EBUSY') throw err;
    const holders = holdersOf(k).map((h) => (label(h) === kernelName(h) ? label(h) : `${kernelName(h)}: ${label(h)}`));
    throw new StoreError(store, 'claimed', `${role} ${store} is claimed by another holder${holders.length ? ` (${holders.join(', ')})` : ': something has it open exclusively'}`);
  }
  fs.closeSync(fd);
}

/** udev's workers open a new device to probe it, read-only and briefly: not a user of it. */
const PROBERS = new Set(['systemd-udevd', '(udev-worker)', 'udevd']);

/** Processes other than this one with the block device `num` open, as "pid (command)". */
function openers(num: DevNum): string[] {
  const out: string[] = [];
  for (const pid of list('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
    for (const fd of list(`/proc/${pid}/fd`)) {
      let st: fs.BigIntStats | undefined;
      try {
        st = fs.statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
      } catch {
        continue; // closed meanwhile, or not ours to see
      }
      if (!st.isBlockDevice() || key(decodeDev(st.rdev)) !== key(num)) continue;
      const comm = read(`/proc/${pid}/comm`)?.trim() ?? '?';
      if (!PROBERS.has(comm)) out.push(`${pid} (${comm})`);
      break;
    }
  }
  return out;
}

/** Throws StoreError EBUSY when a process has the device open: it may write to it, and the kernel
 *  lets a table claim a device that plain openers hold. */
function checkNotOpen(store: string, role: string, num: DevNum): void {
  const who = openers(num);
  if (who.length) throw new StoreError(store, 'open', `${role} ${store} is open in process ${who.join(', ')}`);
}

/**
 * Checks a block device before it becomes a store for the dm device `o.serves`; returns its node,
 * number and size. Throws StoreError (nothing is opened for writing, nothing changes).
 */
export async function checkStoreDevice(store: string, o: StoreCheck): Promise<CheckedStore> {
  const role = o.role ?? 'store';
  const { path: node, num } = resolve(store, role);
  const k = key(num);
  const clash = await conflict(k, forbidden(o.serves));
  if (clash) throw new StoreError(store, 'in-stack', `${role} ${store} ${clash}`);
  const up = above(k);
  for (const m of mounts()) {
    const via = up.get(m.dev);
    if (via !== undefined) throw new StoreError(store, 'mounted', `${role} ${store} is mounted on ${m.mountPoint}${via}`);
  }
  for (const s of swaps()) {
    const st = fs.statSync(s.file, { bigint: true, throwIfNoEntry: false });
    const via = st?.isBlockDevice() ? up.get(key(decodeDev(st.rdev))) : undefined;
    if (via !== undefined) throw new StoreError(store, 'swap', `${role} ${store} is active swap${via}`);
  }
  checkUnclaimed(store, role, node, k);
  checkNotOpen(store, role, num);
  const bytes = BigInt(read(sys(k, 'size')) ?? '0') * 512n;
  if (bytes < o.minBytes) throw new StoreError(store, 'too-small', `${role} ${store} is too small: ${bytes} bytes, at least ${o.minBytes} needed`);
  return { path: node, num, bytes };
}

/** Checks the place of a store file to be created: not on a filesystem on the device it serves,
 *  above it or in its stack (the store's writes would go through that device again). */
export async function checkStoreFile(file: string, o: Pick<StoreCheck, 'serves' | 'role'>): Promise<void> {
  const role = o.role ?? 'store';
  const st = fs.statSync(path.dirname(file), { bigint: true, throwIfNoEntry: false });
  const dev = st && fsDevice(st.dev);
  if (!dev) return;
  const clash = await conflict(dev, forbidden(o.serves));
  if (clash) throw new StoreError(file, 'in-stack', `${role} file ${file} is on a filesystem on ${label(dev)}, which ${clash}`);
}
