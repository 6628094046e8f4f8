// The one place the addon is loaded. Everything native goes through this typed interface.
import path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

/** dm-ioctl command numbers (the `nr` of `_IOWR(0xfd, nr, struct dm_ioctl)`). */
export enum DmCmd {
  VERSION = 0,
  REMOVE_ALL = 1,
  LIST_DEVICES = 2,
  DEV_CREATE = 3,
  DEV_REMOVE = 4,
  DEV_RENAME = 5,
  DEV_SUSPEND = 6,
  DEV_STATUS = 7,
  DEV_WAIT = 8,
  TABLE_LOAD = 9,
  TABLE_CLEAR = 10,
  TABLE_DEPS = 11,
  TABLE_STATUS = 12,
  LIST_VERSIONS = 13,
  TARGET_MSG = 14,
  DEV_SET_GEOMETRY = 15,
  DEV_ARM_POLL = 16,
  GET_TARGET_VERSION = 17,
}

/** One target of a table as it crosses the ioctl boundary. Sectors are 512 bytes. */
export interface RawTarget {
  start: bigint;
  length: bigint;
  type: string;
  params: string;
}

/** What TypeScript hands to native code for one ioctl. Already validated by the caller. */
export interface RawRequest {
  /** At most one of name / uuid / (major, minor) addresses the device. */
  name?: string;
  uuid?: string;
  major?: number;
  minor?: number;
  /** DM_*_FLAG bits for the request. */
  flags?: number;
  eventNr?: number;
  /** TABLE_LOAD payload. */
  targets?: RawTarget[];
  /** DEV_RENAME payload: the new name, or the new uuid (then DM_UUID_FLAG is set by the caller). */
  newName?: string;
  /** TARGET_MSG payload. */
  message?: { sector: bigint; text: string };
  /** DEV_SET_GEOMETRY payload: "cylinders heads sectors start". */
  geometry?: string;
  /** GET_TARGET_VERSION payload: the target type name. */
  targetType?: string;
  /** Wipe every native buffer that held this request or its reply, and set DM_SECURE_DATA_FLAG. */
  secure?: boolean;
  /** First data-area size in bytes (default 16 KiB); doubled on DM_BUFFER_FULL_FLAG. */
  initialBufferSize?: number;
  /** Upper bound on the buffer (default 256 MiB); past it the call fails with ENOBUFS. */
  maxBufferSize?: number;
}

export interface RawDevice {
  name: string;
  major: number;
  minor: number;
  /** Present when the kernel reports it (newer name lists). */
  eventNr?: number;
  uuid?: string;
}

/** A target type the kernel has loaded, and its version. */
export interface RawTargetVersion {
  name: string;
  version: [number, number, number];
}

/** What every dm-ioctl reply's header says about the device it addresses. */
export interface DeviceHeader {
  /** The device's name. */
  name: string;
  /** The device's dm uuid; '' when it has none. */
  uuid: string;
  /** Major device number. */
  major: number;
  /** Minor device number. */
  minor: number;
  /** How many openers the device has. */
  openCount: number;
  /** The device's event counter (see waitEvent). */
  eventNr: number;
  /** Targets in the table queried. */
  targetCount: number;
}

/** A decoded reply: the header always, then whichever payload the command returns. */
export interface RawReply extends DeviceHeader {
  version: [number, number, number];
  flags: number;
  /** Data-area size that was finally used (after any growth). */
  dataSize: number;
  /** How many times the buffer had to grow. */
  retries: number;
  /** LIST_DEVICES */
  devices?: RawDevice[];
  /** TABLE_STATUS, DEV_WAIT: params hold the status line or the table line. */
  targets?: RawTarget[];
  /** TABLE_DEPS */
  deps?: { major: number; minor: number }[];
  /** LIST_VERSIONS, GET_TARGET_VERSION */
  versions?: RawTargetVersion[];
  /** TARGET_MSG output, when DM_DATA_OUT_FLAG is set. */
  message?: string;
}

export interface LoopConfig {
  /** Byte offset into the backing file. */
  offset?: bigint;
  /** Byte size limit (0: to the end of the file). */
  sizeLimit?: bigint;
  readOnly?: boolean;
  autoclear?: boolean;
  partscan?: boolean;
  directIo?: boolean;
  /** Logical block size: 512, 1024, 2048 or 4096. */
  blockSize?: number;
}

export interface LoopInfo {
  number: number;
  backingFile: string;
  /** Backing file's device and inode. */
  backingDevice: bigint;
  backingInode: bigint;
  offset: bigint;
  sizeLimit: bigint;
  flags: number;
}

export interface SequenceResult {
  /** Replies of the steps that succeeded, by index. */
  replies: RawReply[];
  /** Index of the step that failed, or -1. */
  failedAt: number;
  /** That step's error (errno, syscall, op, target), as dmIoctl would have thrown it. */
  error?: Error;
  /** Nanoseconds from the start of the first step to the end of the last one run. */
  elapsedNs: number;
}

export interface ThreadStats {
  /** Pool threads started so far (made on demand, kept, bounded). */
  poolThreads: number;
  poolBusy: number;
  poolQueued: number;
  /** 1 once any wait started: one thread serves every wait. */
  waiterThreads: number;
  /** Waits not yet settled. */
  waits: number;
}

export interface WaitHandle {
  promise: Promise<RawReply>;
  cancel(): void;
}

export interface Native {
  // dm: every call opens nothing per call; the control fd is opened once and kept.
  dmIoctl(cmd: DmCmd, req: RawRequest): RawReply;
  dmIoctlAsync(cmd: DmCmd, req: RawRequest): Promise<RawReply>;
  /** Runs the ioctls in order on one of devmapper's threads, stopping at the first failure. Used for freeze
   *  windows, so that nothing runs between a suspend and its resume but the kernel. */
  dmIoctlSequence(steps: [DmCmd, RawRequest][]): Promise<SequenceResult>;
  /** DEV_STATUS on the calling thread, the device addressed by 0 (name), 1 (uuid) or 2 (major,
   *  minor); the reply goes into dmStatusRecord (read by src/dm/status-record.ts). */
  dmStatus(by: 0, name: string): void;
  dmStatus(by: 1, uuid: string): void;
  dmStatus(by: 2, major: number, minor: number): void;
  dmStatusRecord: ArrayBuffer;
  /** Waits (on the one waiter thread, not the libuv pool) until the device's event number differs
   *  from req.eventNr, then returns the DEV_WAIT reply (status lines). cancel() rejects with ECANCELED. */
  dmWait(req: RawRequest): WaitHandle;
  /** What devmapper's own threads are doing: the pool for blocking calls, and the one waiter thread
   *  shared by every dmWait. */
  threadStats(): ThreadStats;
  /** Pure codec, exposed for unit tests of the encoding and of malformed replies. */
  dmEncode(cmd: DmCmd, req: RawRequest, dataSize: number): Buffer;
  dmDecode(cmd: DmCmd, reply: Buffer): RawReply;

  // loop devices: each call runs on devmapper's own threads (the kernel may retry for a second)
  loopGetFree(): Promise<number>;
  loopAdd(n: number): Promise<number>;
  loopRemove(n: number): Promise<void>;
  /** LOOP_CONFIGURE, falling back to LOOP_SET_FD + LOOP_SET_STATUS64 where the kernel lacks it. */
  loopAttach(loopPath: string, backingPath: string, cfg: LoopConfig): Promise<void>;
  loopDetach(loopPath: string): Promise<void>;
  loopStatus(loopPath: string): Promise<LoopInfo>;
  loopSetCapacity(loopPath: string): Promise<void>;
  loopSetDirectIo(loopPath: string, on: boolean): Promise<void>;
  loopSetBlockSize(loopPath: string, size: number): Promise<void>;

  // small syscalls node:fs lacks
  blockDeviceSize(path: string): bigint;
  /** BLKFLSBUF: write back and drop the block device's page cache (on devmapper's threads). */
  flushBuffers(path: string): Promise<void>;
  mknodBlock(path: string, mode: number, major: number, minor: number): void;
  /** `size` zeroed bytes at a 4096-aligned address, for O_DIRECT reads and writes. */
  alignedBuffer(size: number): Buffer;
  /** flock(fd, LOCK_EX|LOCK_NB) (LOCK_SH when `exclusive` is false): 0 when taken, else the errno
   *  (EWOULDBLOCK while another open file description holds it). Never blocks. */
  flockTry(fd: number, exclusive?: boolean): number;
}

// DEVMAPPER_ADDON=/path/to/devmapper.node loads that file instead of node-gyp-build's choice
// (the sanitizer build: scripts/ship/sanitize.js).
const addonOverride = process.env.DEVMAPPER_ADDON;
export const native = (
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addonOverride ? require(path.resolve(addonOverride)) : load(path.join(__dirname, '..'))
) as Native;
