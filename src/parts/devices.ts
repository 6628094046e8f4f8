// The kernel side of partition mappings: a disk (a block device, or an image file attached on a
// loop device as kpartx does), the devices kpartx's rules give its partitions, made or removed all
// together or not at all.
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../dm';
import * as loop from '../loop';
import { decodeDev } from '../table';
import { PartitionTableError, PartsError } from './errors';
import { kpartxListLines, kpartxMappings, type KpartxMapping } from './kpartx';
import { readPartitionTable } from './table';
import type { PartitionTable } from './types';

/** Options of the partition device functions, as kpartx's flags. */
export interface PartsOptions {
  /** Like `kpartx -p`: the text between the disk's name and the partition number. */
  delimiter?: string;
  /** Like `kpartx -g`: a valid GPT is used even when the MBR is not protective. */
  forceGpt?: boolean;
}

/** The disk a partition table was read from. */
export interface Disk {
  /** The block device read (for an image file, the loop device it is attached on). */
  path: string;
  /** The name kpartx derives partition names from: the dm name, or the kernel's name (loop0). */
  name: string;
  major: number;
  minor: number;
  /** dm uuid of a dm disk. */
  uuid?: string;
  /** The image file, when the disk is one. */
  file?: string;
}

/** What listPartitions() read: the disk, its table, and the mappings kpartx would make. */
export interface PartitionListing {
  disk: Disk;
  table: PartitionTable;
  mappings: KpartxMapping[];
  /** What `kpartx -l` prints. */
  text: string;
}


/** The disk behind a block device path. */
function diskAt(dev: string, file?: string): Disk {
  const st = fs.statSync(dev);
  if (!st.isBlockDevice()) throw new PartitionTableError('ENOTABLE', dev, `${dev} is not a block device`);
  const { major, minor } = decodeDev(st.rdev);
  const info = fs.existsSync(`/sys/dev/block/${major}:${minor}/dm`) ? dm.infoOrNone({ major, minor }) : undefined;
  const name = info?.name ?? path.basename(fs.realpathSync(`/sys/dev/block/${major}:${minor}`));
  return { path: dev, name, major, minor, ...(info?.uuid ? { uuid: info.uuid } : {}), ...(file ? { file } : {}) };
}

/**
 * Opens `target` for reading its table: a block device as it is; an image file on the loop device
 * already attached to it, else on a new one (autoclear: it goes once nothing holds it, so a
 * listing leaves none behind and removing the mappings of an added image detaches it).
 */
async function openDisk(target: string, attach: boolean): Promise<{ disk: Disk; release(): Promise<void> } | undefined> {
  const st = fs.statSync(target);
  if (st.isBlockDevice()) return { disk: diskAt(target), release: async () => undefined };
  if (!st.isFile()) throw new TypeError(`${target} is neither a block device nor an image file`);
  const file = path.resolve(target);
  const [on] = await loop.findByBackingFile(file);
  if (on) return { disk: diskAt(on.path, file), release: async () => undefined };
  if (!attach) return undefined;
  const l = await loop.attach(file, { autoclear: true });
  return { disk: diskAt(l.path, file), release: async () => l.release?.() };
}

function readTable(disk: Disk, o: PartsOptions): PartitionTable {
  const fd = fs.openSync(disk.path, 'r');
  try {
    // The kernel's size, in 512-byte sectors whatever the logical sector size.
    const size = BigInt(fs.readFileSync(`/sys/dev/block/${disk.major}:${disk.minor}/size`, 'utf8').trim()) * 512n;
    const read = (offset: bigint, length: number): Buffer => {
      const b = Buffer.alloc(length);
      const n = fs.readSync(fd, b, 0, length, offset);
      return b.subarray(0, n);
    };
    return readPartitionTable(read, size, { ...(o.forceGpt ? { forceGpt: true } : {}) });
  } finally {
    fs.closeSync(fd);
  }
}

/** The partitions of `target` and the devices kpartx would make of them. Changes nothing. */
export async function listPartitions(target: string, o: PartsOptions = {}): Promise<PartitionListing> {
  const opened = (await openDisk(target, true))!;
  try {
    const table = readTable(opened.disk, o);
    const mappings = kpartxMappings(table, opened.disk, o);
    return { disk: opened.disk, table, mappings, text: kpartxListLines(table, opened.disk, o) };
  } finally {
    await opened.release();
  }
}

/** The dm devices that map partitions of `disk` (by kpartx's uuids), logicals last. */
function mappingsOf(disk: Disk): dm.DeviceInfo[] {
  const parent = disk.uuid || `devnode_${disk.major}:${disk.minor}_Wh5pYvM`;
  const re = /^part(\d+)-(.*)$/;
  const out: { n: number; info: dm.DeviceInfo }[] = [];
  for (const d of dm.listDevicesSync()) {
    const info = dm.infoOrNone(d.name);
    const m = info?.uuid ? re.exec(info.uuid) : null;
    if (info && m && m[2] === parent) out.push({ n: Number(m[1]), info });
  }
  return out.sort((a, b) => a.n - b.n).map((x) => x.info);
}

/**
 * Makes a device for every partition, as `kpartx -a` does (names, uuids, tables). A device that
 * is there already with the same uuid and table is left as it is; one of the same name that is
 * not is refused before anything is made. A failure removes what this call made.
 */
export async function addPartitions(target: string, o: PartsOptions = {}): Promise<PartitionListing & { created: string[] }> {
  const opened = (await openDisk(target, true))!;
  const created: string[] = [];
  try {
    const table = readTable(opened.disk, o);
    const mappings = kpartxMappings(table, opened.disk, o);
    const todo = mappings.filter((m) => {
      const there = dm.infoOrNone(m.name);
      if (!there) return true;
      const live = dm.tableSync(m.name);
      const same = there.uuid === m.uuid && live.length === 1 && live[0].type === 'linear' && live[0].params === m.target.params && live[0].length === m.target.length;
      if (!same) throw new PartsError('EEXIST', `a device named ${m.name} exists and is not partition ${m.number} of ${opened.disk.path}: nothing was made`);
      return false;
    });
    try {
      for (const m of todo) {
        await dm.create(m.name, { uuid: m.uuid });
        created.push(m.name);
        await dm.loadRawTable(m.name, [m.target]);
        await dm.resume(m.name);
      }
    } catch (err) {
      for (const n of created.reverse()) await dm.remove(n, { retry: true }).catch(() => undefined);
      throw err;
    }
    return { disk: opened.disk, table, mappings, text: kpartxListLines(table, opened.disk, o), created: [...created] };
  } finally {
    await opened.release();
  }
}

/**
 * Removes the partition devices of `target` (kpartx's uuids tell which), refused as a whole
 * while any of them is open or mounted. An image's loop device goes with them when devmapper
 * attached it (autoclear); one attached by someone else is detached as `kpartx -d` does.
 */
export async function removePartitions(target: string): Promise<{ disk?: Disk; removed: string[] }> {
  const opened = await openDisk(target, false);
  if (!opened) return { removed: [] };
  const { disk } = opened;
  const devices = mappingsOf(disk);
  const busy = [];
  for (const d of devices) if ((await dm.settledOpenCount(d.name)) > 0) busy.push(d);
  if (busy.length) {
    throw new PartsError('EBUSY', `${busy.map((d) => d.name).join(', ')} ${busy.length === 1 ? 'is' : 'are'} open or mounted: nothing was removed`);
  }
  const removed: string[] = [];
  for (const d of devices.reverse()) {
    await dm.remove(d.name, { retry: true });
    removed.push(d.name);
  }
  if (disk.file && fs.existsSync(`/sys/block/${path.basename(disk.path)}/loop`)) {
    await loop.detach(disk.path).catch(() => undefined);
  }
  return { disk, removed: removed.reverse() };
}
