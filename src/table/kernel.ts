// Typed tables to and from the kernel. loadTable checks the table against the running kernel
// (device sizes from sysfs, target types and versions from LIST_VERSIONS) before anything is
// sent, and sets DM_SECURE_DATA_FLAG when the table holds a key; readTable and readStatus give
// back typed targets and statuses. This is the one file of src/table that talks to the kernel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as dm from '../dm';
import type { RawTargetVersion } from '../native';
import { devPath, devRefKey, formatDevNum, parseDevNum, resolveDevRef, type DevRef } from './devref';
import { TableError } from './errors';
import type { StatusMap, Table, Target } from './model';
import { fromRawTargets, needsSecureData, parseStatusTargets, toRawTargets, type ParseOptions, type TargetStatus } from './table';
import type { DevFormatter } from './types';
import { tableProblems, type DeviceProvider } from './validate';

/** Options of kernelDeviceProvider() and devPathFormatter(). */
export interface KernelDeviceProviderOptions {
  /** Where sysfs is mounted (default /sys). */
  sysfs?: string;
}

/** A DeviceProvider that can also say whether two references name the same device. */
export interface KernelDeviceProvider extends DeviceProvider {
  /** "M:m" for anything that resolves (a path is stat'ed), else the reference as spelled. */
  identify(ref: DevRef): string;
}

function readSectors(file: string): bigint | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(text) ? BigInt(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Block device sizes as the kernel sees them now: /sys/dev/block/M:m/size (512-byte sectors, the
 * capacity the kernel uses, also for loop and dm devices). A path is stat'ed for its device number.
 * undefined: no such block device.
 */
export function kernelDeviceProvider(opts: KernelDeviceProviderOptions = {}): KernelDeviceProvider {
  const sysfs = opts.sysfs ?? '/sys';
  const resolve = (ref: DevRef): string | undefined => {
    try {
      return formatDevNum(resolveDevRef(ref));
    } catch {
      return undefined; // no such path, or not a block device
    }
  };
  return {
    sizeOf(ref: string) {
      const num = resolve(ref);
      return num === undefined ? undefined : readSectors(path.join(sysfs, 'dev', 'block', num, 'size'));
    },
    identify: (ref) => resolve(ref) ?? devRefKey(ref),
  };
}

/**
 * The target types the kernel has and their versions (LIST_VERSIONS). LIST_VERSIONS lists only the
 * targets whose modules are loaded, while a table load loads the module it needs; so each type in
 * `alsoTypes` that is not listed is asked for by GET_TARGET_VERSION, which loads its module too.
 */
export async function kernelVersions(alsoTypes: readonly string[] = []): Promise<RawTargetVersion[]> {
  const out = await dm.listVersions();
  for (const type of new Set(alsoTypes)) {
    if (out.some((v) => v.name === type) || !/^[A-Za-z0-9_.+-]{1,15}$/.test(type)) continue;
    try {
      out.push({ name: type, version: await dm.targetVersion(type) });
    } catch (e) {
      // EINVAL (older kernels) or ENOENT: the kernel has no such target; validation says so.
      if (!(e instanceof Error && 'code' in e)) throw e;
    }
  }
  return out;
}

/** Options of loadTable() and kernelTableProblems(). */
export interface TableLoadOptions {
  /** Load the table read-only. */
  readOnly?: boolean;
  /** Device sizes to check against (default: kernelDeviceProvider()). */
  devices?: DeviceProvider;
  /** Target versions to check against (default: kernelVersions() for the table's types). */
  versions?: readonly RawTargetVersion[];
  /** The kernel release to check against (default: the running kernel's, os.release()). */
  kernelRelease?: string;
}

/** Every problem `loadTable` would refuse the table for, checked against the running kernel; [] when it is fit to load. */
export async function kernelTableProblems(table: Table, o: TableLoadOptions = {}): Promise<TableError[]> {
  if (!Array.isArray(table)) throw new TypeError('a table is an array of targets');
  const devices = o.devices ?? kernelDeviceProvider();
  const identify = 'identify' in devices && typeof devices.identify === 'function' ? (devices as KernelDeviceProvider).identify : kernelDeviceProvider().identify;
  const versions = o.versions ?? (await kernelVersions(table.map((t) => t?.type).filter((x): x is string => typeof x === 'string')));
  const out = tableProblems(table, { devices, versions, identify, kernelRelease: o.kernelRelease ?? os.release() });
  if (!o.readOnly) {
    // verity_ctr refuses a table opened for writing ("Device must be readonly").
    table.forEach((t, i) => {
      if (t?.type === 'verity') out.push(new TableError('verity loads only in a read-only table: pass readOnly: true', 'read-only', i + 1, t.type));
    });
    out.sort((a, b) => a.line - b.line);
  }
  return out;
}

/**
 * Loads a typed table into the device's inactive slot (resume makes it live). The table is checked
 * first, against the devices and target versions of the running kernel: a TableError naming the line
 * and the rule is thrown, and nothing is sent, when it would not load. Device references (paths,
 * "M:m", { major, minor }) go to the kernel as major:minor. A table holding a key (crypt, keyed
 * integrity) is sent with DM_SECURE_DATA_FLAG, so the kernel wipes its copies and the addon its buffers.
 */
export async function loadTable(device: dm.DeviceRef, table: Table, o: TableLoadOptions = {}): Promise<dm.DeviceInfo> {
  const [first] = await kernelTableProblems(table, o);
  if (first) throw first;
  const raw = toRawTargets(table);
  return dm.loadRawTable(device, raw, { readOnly: o.readOnly, secure: needsSecureData(table) });
}

/** Options of readTable(). */
export interface ReadTableOptions extends ParseOptions {
  /** The loaded, not yet resumed, table instead of the live one. */
  inactive?: boolean;
}

/**
 * The device's table as typed targets, devices as the kernel spells them ("M:m"; devPath maps one
 * back to a path). formatTable of the result gives the kernel's text byte for byte. The query is
 * made with DM_SECURE_DATA_FLAG: a crypt table comes back with its key (held in a CryptKey).
 */
export async function readTable(device: dm.DeviceRef, o: ReadTableOptions = {}): Promise<Target[]> {
  const { inactive, ...parse } = o;
  return fromRawTargets(await dm.table(device, { inactive, secure: true }), parse);
}

/** Options of readStatus(). */
export interface ReadStatusOptions {
  /** Status of the inactive table's targets. */
  inactive?: boolean;
  /** Do not let targets flush before reporting (thin-pool commits its metadata otherwise). */
  noflush?: boolean;
}

/** Each target's status, parsed for typed target types ({ raw } for others). */
export async function readStatus(device: dm.DeviceRef, o: ReadStatusOptions = {}): Promise<TargetStatus[]> {
  return parseStatusTargets(await dm.status(device, { inactive: o.inactive, noflush: o.noflush }));
}

/** A target's parsed status as its type's status, after checking that the target is of that type. */
export function statusAs<K extends keyof StatusMap>(s: TargetStatus, type: K): StatusMap[K] {
  if (s.type !== type) throw new TypeError(`the target at sector ${s.start} is ${s.type}, not ${type}`);
  return s.status as StatusMap[K];
}

/**
 * A DevFormatter that writes devices as /dev paths (/dev/mapper/<name> for dm devices) where sysfs
 * knows them, "M:m" otherwise: for showing a table to people, e.g. formatTable(t, { dev: devPathFormatter() }).
 */
export function devPathFormatter(opts: KernelDeviceProviderOptions = {}): DevFormatter {
  return (ref) => {
    const num = typeof ref === 'string' ? parseDevNum(ref) : ref;
    if (!num) return devRefKey(ref); // already a path
    return devPath(num.major, num.minor, { sysfs: opts.sysfs }) ?? formatDevNum(num);
  };
}
