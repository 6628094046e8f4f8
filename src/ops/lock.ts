// Locks between processes: every operation that changes a device holds an flock on
// <dir>/<device>.lock while it inspects and changes it, so a second operation sees the first one's
// result instead of racing it (LVM does the same per volume group under /run/lock/lvm). Several
// locks are taken in one sorted order, so two operations never wait on each other in a cycle.
// Lock files are never deleted: deleting a file someone else has open and is about to flock lets
// two processes hold "the" lock at once.
import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import { retryLock, tryFlock } from '../flock';
import { fileNameOf } from '../records';

/** Default bound on the wait for a lock. */
import { DEFAULT_LOCK_TIMEOUT_MS } from './defaults';

export { DEFAULT_LOCK_TIMEOUT_MS };

/** How long an operation waits for another operation's device locks. */
export interface LockOptions {
  /** How long to wait for another operation's lock on a device, in ms (default 10 s; 0: try once). */
  lockTimeoutMs?: number;
  /** Stops the wait for another operation's lock (DeviceLockedError, `interrupted`; nothing was
   *  changed). Once its locks are held, an operation runs to its end or rolls back. */
  signal?: AbortSignal;
}

/** What a lock file says about the operation that holds it (or last held it: then `released`). */
export interface LockRecord {
  pid: number;
  operation: string;
  devices: string[];
  /** ISO time the lock was taken. */
  since: string;
  released?: string;
  /** What the operation did to this device, when it says (e.g. 'merged'). */
  outcome?: string;
}

/** The wait for a device's lock ran out: another operation holds it. Nothing was changed. */
export class DeviceLockedError extends Error {
  /** Always `'DeviceLockedError'`. */
  override name = 'DeviceLockedError';
  /** Always `'EBUSY'`. */
  readonly code = 'EBUSY';
  constructor(
    readonly device: string,
    readonly operation: string,
    /** The holder as its lock file describes it (undefined if it wrote nothing yet). */
    readonly holder: LockRecord | undefined,
    /** Whether the holder's pid is alive. */
    readonly holderAlive: boolean,
    readonly waitedMs: number,
    /** The caller's signal stopped the wait (Ctrl-C), not the timeout. */
    readonly interrupted = false,
  ) {
    const who = holder
      ? `${holder.operation} of process ${holder.pid} (since ${holder.since}${holderAlive ? '' : '; that process is gone, a child of it may hold the lock'})`
      : 'another process (it has not said which)';
    super(`${device} is locked by ${who}; ${operation} ${interrupted ? 'stopped waiting when interrupted' : 'gave up'} after ${waitedMs} ms; nothing was changed`);
  }
}

export function lockDir(): string {
  return process.env.DEVMAPPER_LOCK_DIR || '/run/lock/devmapper';
}

/** The lock file of a device: its name, with '%' and anything a file name should not hold escaped. */
export function lockFile(device: string): string {
  return path.join(lockDir(), `${fileNameOf(device)}.lock`);
}

/** Checks the lock options an operation was given; returns the timeout to use. */
export function checkLockOptions(o: LockOptions | undefined): number {
  if (o?.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  const v: unknown = o?.lockTimeoutMs;
  if (v === undefined) return DEFAULT_LOCK_TIMEOUT_MS;
  if (typeof v !== 'number') throw new TypeError('lockTimeoutMs must be a number');
  if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`lockTimeoutMs must be a finite number >= 0, got ${v}`);
  return v;
}

interface Held {
  fd: number;
  record: LockRecord;
  /** The record the previous holder left. */
  previous?: LockRecord;
}

/** Locks this process holds, by device: a second operation in this process waits for them too. */
const held = new Map<string, Held>();
/** The devices the running operation (this async context) holds: nested calls do not wait on them. */
const context = new AsyncLocalStorage<ReadonlySet<string>>();

function readRecord(fd: number): LockRecord | undefined {
  try {
    const st = fs.fstatSync(fd);
    const buf = Buffer.alloc(Math.min(st.size, 64 * 1024));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const r = JSON.parse(buf.subarray(0, n).toString('utf8')) as LockRecord;
    return typeof r?.pid === 'number' && typeof r.operation === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

function writeRecord(fd: number, r: LockRecord): void {
  const b = Buffer.from(`${JSON.stringify(r)}\n`);
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, b, 0, b.length, 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function openLockFile(device: string): number {
  fs.mkdirSync(lockDir(), { recursive: true, mode: 0o755 });
  return fs.openSync(lockFile(device), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
}

/** Takes one device's lock, polling with a backoff until `deadline`. */
async function acquire(device: string, record: LockRecord, deadline: number, started: number, signal?: AbortSignal): Promise<Held> {
  const fd = openLockFile(device);
  try {
    let h: Held | undefined;
    // Another operation of this process holds it: wait for it, do not flock again (flock would
    // let a second descriptor of the same process wait on itself).
    const taken = await retryLock(() => {
      if (held.has(device) || !tryFlock(fd, lockFile(device))) return false;
      h = { fd, record, previous: readRecord(fd) };
      writeRecord(fd, record);
      held.set(device, h);
      return true;
    }, deadline, signal);
    if (taken) return h!;
    const holder = held.get(device)?.record ?? readRecord(fd);
    throw new DeviceLockedError(device, record.operation, holder, holder ? alive(holder.pid) : false, Date.now() - started, !!signal?.aborted);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

function release(device: string, h: Held): void {
  held.delete(device);
  try {
    // The record stays, marked released: the next holder can tell what was done last (merge
    // reports a merge another process just finished).
    writeRecord(h.fd, { ...h.record, released: new Date().toISOString() });
  } catch {
    /* the lock goes with the descriptor anyway */
  } finally {
    fs.closeSync(h.fd);
  }
}

/** The current operation's view of a device's lock: what the previous holder left, and a way to
 *  say what this operation did to it. Undefined outside withLocks() for that device. */
export function heldLock(device: string): { previous?: LockRecord; setOutcome(outcome: string): void } | undefined {
  const h = held.get(device);
  if (!h || !context.getStore()?.has(device)) return undefined;
  return { previous: h.previous, setOutcome: (outcome) => void (h.record.outcome = outcome) };
}

/**
 * Runs `fn` holding the locks of `devices` (taken in sorted order; waiting up to
 * `o.lockTimeoutMs` in all, or until `o.signal` aborts). Locks this async context already holds (an operation calling another) are not taken again.
 * Throws DeviceLockedError, having changed nothing, when a lock stays taken past the timeout.
 */
export async function withLocks<T>(operation: string, devices: readonly string[], o: LockOptions | undefined, fn: () => Promise<T>): Promise<T> {
  const mine = context.getStore() ?? new Set<string>();
  const want = [...new Set(devices)].filter((d) => !mine.has(d)).sort();
  if (want.length === 0) return fn();
  const started = Date.now();
  const deadline = started + checkLockOptions(o);
  const record: LockRecord = { pid: process.pid, operation, devices: [...new Set(devices)].sort(), since: new Date(started).toISOString() };
  const taken: [string, Held][] = [];
  try {
    for (const d of want) taken.push([d, await acquire(d, { ...record }, deadline, started, o?.signal)]);
    return await context.run(new Set([...mine, ...want]), fn);
  } finally {
    for (const [d, h] of taken.reverse()) release(d, h);
  }
}
