// Cheap queries: each comes as an async function and a Sync twin. The async forms run off the event
// loop, except info(): DEV_STATUS never waits in the kernel, and a thread-pool trip costs more.
import { callerStack, fromNative } from '../errors';
import { DmCmd, native } from '../native';
import type { RawReply, RawRequest, RawTargetVersion } from '../native';
import { callAsync, callSync } from './call';
import { addressOf } from './device';
import type { Address, DeviceRef } from './device';
import { DmFlag } from './flags';
import { readStatusRecord } from './status-record';
import type { DeviceInfo, TargetLine } from './info';
import { checkBufferOptions, checkName, MAX_TYPE_BYTES } from './validate';
import type { BufferOptions } from './validate';

interface Built {
  req: RawRequest;
  label?: string;
}

/** One query, defined once, exported twice. Arguments are checked before either form runs. */
function query<A extends unknown[], T>(cmd: DmCmd, build: (...args: A) => Built, map: (r: RawReply) => T) {
  return {
    sync: (...args: A): T => {
      const b = build(...args);
      return map(callSync(cmd, b.req, b.label));
    },
    async: async (...args: A): Promise<T> => {
      const stack = callerStack();
      const b = build(...args);
      return map(await callAsync(cmd, b.req, b.label, stack));
    },
  };
}

function onDevice(ref: DeviceRef, flags = 0, buffers?: BufferOptions): Built {
  const a = addressOf(ref);
  return { req: { ...a.fields, ...checkBufferOptions(buffers), flags }, label: a.label };
}

/** Options of table() and status(). */
export interface TableQueryOptions extends BufferOptions {
  /** Ask about the inactive (loaded, not yet resumed) table instead of the live one. */
  inactive?: boolean;
  /** Do not let targets flush before reporting (e.g. thin pool metadata). */
  noflush?: boolean;
  /** Set DM_SECURE_DATA_FLAG and wipe the buffers (tables can hold keys). */
  secure?: boolean;
}

function tableQuery(ref: DeviceRef, table: boolean, o: TableQueryOptions = {}): Built {
  let flags = table ? DmFlag.STATUS_TABLE : 0;
  if (o.inactive) flags |= DmFlag.QUERY_INACTIVE_TABLE;
  if (o.noflush) flags |= DmFlag.NOFLUSH;
  const b = onDevice(ref, flags, o);
  if (o.secure) b.req.secure = true;
  return b;
}

/** The kernel's dm-ioctl interface version. */
export interface InterfaceVersion {
  major: number;
  minor: number;
  patch: number;
}

/** One device of listDevices(). */
export interface ListedDevice {
  name: string;
  major: number;
  minor: number;
  /** Interface 4.38 and later. */
  eventNr?: number;
  /** Kernels that report uuids in the list (5.13+), for devices that have one. */
  uuid?: string;
}

const versionQ = query(
  DmCmd.VERSION,
  () => ({ req: {} }),
  (r): InterfaceVersion => ({ major: r.version[0], minor: r.version[1], patch: r.version[2] }),
);
/** The kernel's dm-ioctl interface version. */
export const version = versionQ.async;
/** The kernel's dm-ioctl interface version (synchronous twin of version()). */
export const versionSync = versionQ.sync;

// The name infoSync last validated: callers poll the same device, and a name valid once stays so.
let checkedName = '';

/** DEV_STATUS. ENXIO when there is no such device. */
export function infoSync(ref: DeviceRef): DeviceInfo {
  if (ref !== checkedName || typeof ref !== 'string') return infoOf(addressOf(ref));
  try {
    native.dmStatus(0, ref);
  } catch (err) {
    throw fromNative(err, 'DEV_STATUS', ref);
  }
  return readStatusRecord();
}

function infoOf(a: Address): DeviceInfo {
  const f = a.fields;
  try {
    if (f.name !== undefined) native.dmStatus(0, f.name);
    else if (f.uuid !== undefined) native.dmStatus(1, f.uuid);
    else native.dmStatus(2, f.major as number, f.minor as number);
  } catch (err) {
    throw fromNative(err, 'DEV_STATUS', a.label);
  }
  if (f.name !== undefined) checkedName = f.name;
  return readStatusRecord();
}

/** DEV_STATUS, or undefined when there is no such device (ENXIO); other errors are thrown. */
export function infoOrNone(ref: DeviceRef): DeviceInfo | undefined {
  try {
    return infoSync(ref);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENXIO') return undefined;
    throw err;
  }
}

/** DEV_STATUS, as a promise. The kernel answers it without waiting for any I/O, so it runs on the
 *  calling thread: a trip through the thread pool would cost more than the ioctl. */
export async function info(ref: DeviceRef): Promise<DeviceInfo> {
  return infoSync(ref);
}

const listQ = query(
  DmCmd.LIST_DEVICES,
  // DM_UUID_FLAG asks kernels that can to put each device's uuid in the list.
  (o: BufferOptions = {}) => ({ req: { ...checkBufferOptions(o), flags: DmFlag.UUID } }),
  (r): ListedDevice[] => r.devices ?? [],
);
/** Every dm device: name, dev_t, and (where the kernel reports them) event number and uuid. */
export const listDevices = listQ.async;
/** Every dm device (synchronous twin of listDevices()). */
export const listDevicesSync = listQ.sync;

const depsQ = query(
  DmCmd.TABLE_DEPS,
  (ref: DeviceRef, o: { inactive?: boolean } & BufferOptions = {}) =>
    onDevice(ref, o.inactive ? DmFlag.QUERY_INACTIVE_TABLE : 0, o),
  (r) => r.deps ?? [],
);
/** The block devices (major:minor) the table uses. */
export const deps = depsQ.async;
/** The block devices the table uses (synchronous twin of deps()). */
export const depsSync = depsQ.sync;

const statusQ = query(
  DmCmd.TABLE_STATUS,
  (ref: DeviceRef, o?: TableQueryOptions) => tableQuery(ref, false, o),
  (r): TargetLine[] => r.targets ?? [],
);
/** Each target's status line. */
export const status = statusQ.async;
/** Each target's status line (synchronous twin of status()). */
export const statusSync = statusQ.sync;

const tableQ = query(
  DmCmd.TABLE_STATUS,
  (ref: DeviceRef, o?: TableQueryOptions) => tableQuery(ref, true, o),
  (r): TargetLine[] => r.targets ?? [],
);
/** The table as the kernel holds it (its canonical form of each line). */
export const table = tableQ.async;
/** The table as the kernel holds it (synchronous twin of table()). */
export const tableSync = tableQ.sync;

const versionsQ = query(
  DmCmd.LIST_VERSIONS,
  (o: BufferOptions = {}) => ({ req: checkBufferOptions(o) }),
  (r): RawTargetVersion[] => r.versions ?? [],
);
/** Target types the kernel has loaded, with their versions. */
export const listVersions = versionsQ.async;
/** Target types the kernel has loaded, with their versions (synchronous twin of listVersions()). */
export const listVersionsSync = versionsQ.sync;

const targetVersionQ = query(
  DmCmd.GET_TARGET_VERSION,
  (type: string) => {
    checkName(type, 'target type');
    if (Buffer.byteLength(type) > MAX_TYPE_BYTES) throw new RangeError(`target type must be at most ${MAX_TYPE_BYTES} bytes`);
    return { req: { targetType: type }, label: `target ${type}` };
  },
  (r): [number, number, number] => {
    const v = r.versions?.[0];
    if (!v) throw new Error('GET_TARGET_VERSION: the kernel returned no version');
    return v.version;
  },
);
/** One target type's version; the kernel loads its module if needed. EINVAL if unknown. */
export const targetVersion = targetVersionQ.async;
/** One target type's version (synchronous twin of targetVersion()). */
export const targetVersionSync = targetVersionQ.sync;

export type { DeviceInfo };
