// COW fill: warnings at thresholds and growth of a file-backed store before it is full. A full
// COW fails every write to a diverted device, so this is what keeps data from being lost.
// The kernel raises an event only when a P store is invalidated; fill level has none. So the
// watcher keeps one DEV_WAIT armed (for invalidation) and reads the status on a timer between
// (a status read costs tens of microseconds); both stop at once on stop() or the AbortSignal.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../dm';
import * as loop from '../loop';
import { parseSnapshotStatus, percentFull, type SnapshotStatus } from '../table';
import { parseSize } from '../units';
import { inspect, type Inspection } from './describe';
import { refusal } from './errors';
import { checkName } from '../dm/validate';
import { checkSignal } from './options';
import { Tx } from './transaction';
import { refuseInterrupted } from './record';
import { checkLockOptions, withLocks, type LockOptions } from './lock';

/**
 * An event of a CowWatcher: fill level, a threshold crossed, growth, a snapshot status that is not a fill level, an error, or the end.
 */
export type CowEvent =
  | { type: 'fill'; percent: number; allocated: bigint; total: bigint }
  | { type: 'warning'; threshold: number; percent: number }
  /** `tookMs`: from the status read that called for growth to the kernel seeing the new size. */
  | { type: 'grown'; fromBytes: bigint; toBytes: bigint; percent: number; tookMs: number }
  /** Growth is due but the file's filesystem has no room for it (said once until it has). */
  | { type: 'cannot-grow'; percent: number; reason: string }
  | { type: 'invalid' | 'overflow' | 'merge-failed' | 'unknown'; status: SnapshotStatus }
  | { type: 'error'; error: Error }
  | { type: 'end' };

/** When and how much a file-backed COW grows. */
export interface GrowPolicy {
  /** Grow when the fill level reaches this percentage (default 80). */
  at?: number;
  /** Bytes (or a size like '64M') to add each time (default: double the store). */
  by?: bigint | number | string;
  /** Never grow the file past this size. */
  max?: bigint | number | string;
}

/** Options of watchCow(). */
export interface WatchCowOptions {
  /** Fill percentages that raise a 'warning' once each as they are crossed upward (default 50, 80, 90, 95). */
  thresholds?: number[];
  /** Grow a file-backed COW automatically. */
  grow?: GrowPolicy | boolean;
  signal?: AbortSignal;
  /** Longest pause between two status reads (default 250 ms). */
  intervalMs?: number;
}

/** What growCow() did: the new size in bytes and in sectors. */
export interface GrowResult {
  bytes: bigint;
  /** The COW size (sectors) as the snapshot's status now reports it. */
  totalSectors: bigint;
}

function cowStatus(name: string): SnapshotStatus {
  return parseSnapshotStatus(dm.statusSync(name)[0]?.params ?? 'Unknown');
}

/** The COW store's status; undefined once the device is gone or holds no snapshot table. */
function storeStatus(name: string): SnapshotStatus | undefined {
  let t;
  try {
    t = dm.statusSync(name)[0];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
    throw err;
  }
  return t?.type === 'snapshot' || t?.type === 'snapshot-merge' ? parseSnapshotStatus(t.params) : undefined;
}

/** Free bytes on the filesystem holding `file` (for an unprivileged user, as root's reserve is
 *  not the COW's to take); undefined when it cannot be read. */
function freeBytes(file: string): bigint | undefined {
  try {
    const s = fs.statfsSync(path.dirname(file), { bigint: true });
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function diverted(d: Inspection): boolean {
  return d.state === 'diverted' || d.state === 'snapshot' || d.state === 'merging';
}

/** Grows a file-backed COW store to `newSize` bytes: extends the file, refreshes the loop device's
 *  capacity; the kernel reads the new size live (if it did not, the table is reloaded). */
export async function growCow(name: string, newSize: bigint | number | string, o: LockOptions = {}): Promise<GrowResult> {
  checkName(name);
  checkLockOptions(o);
  const bytes = parseSize(newSize);
  if (bytes % 512n !== 0n) throw new RangeError('newSize must be a multiple of 512 bytes');
  const d0 = await inspect(name);
  if (diverted(d0) && d0.cow?.file) {
    const size = BigInt(fs.statSync(d0.cow.file).size);
    if (bytes <= size) throw new RangeError(`newSize ${bytes} must be larger than the COW's ${size} bytes`);
  }
  const tx = new Tx('grow-cow');
  return withLocks('grow-cow', [name], o, () => tx.run(async () => {
    const d = await tx.step('inspect', async () => {
      const d = await inspect(name);
      if (!diverted(d)) throw refusal(`${name} is ${d.state}: it has no COW store`, 'EINVAL');
      if (!d.cow!.file) throw refusal(`the COW of ${name} is not file-backed`, 'EINVAL');
      refuseInterrupted(name, d.state);
      const size = BigInt(fs.statSync(d.cow!.file).size);
      if (bytes <= size) throw new RangeError(`newSize ${bytes} must be larger than the COW's ${size} bytes`);
      return d;
    });
    const before = cowStatus(name);
    await tx.step('extend cow file', () => fs.promises.truncate(d.cow!.file!, Number(bytes)));
    await tx.step('refresh loop capacity', async () => void (await loop.refreshCapacity(d.cow!.device)));
    let now = cowStatus(name);
    const grew = (s: SnapshotStatus): boolean => s.state === 'active' && before.state === 'active' && s.total > before.total;
    if (!grew(now) && d.state === 'diverted') {
      // Older kernels read the size at table load only.
      await tx.load('V', name, d.table, { readOnly: d.info.flags.readOnly });
      await tx.freeze([{ role: 'V', name }]);
      now = cowStatus(name);
    }
    tx.commit();
    return { bytes, totalSectors: now.state === 'active' ? now.total : 0n };
  }));
}

/** Follows a COW's fill level: an EventEmitter ('fill', 'warning', 'grown', 'invalid', 'overflow',
 *  'error', 'end') that is also an async iterator of the same events. */
export class CowWatcher extends EventEmitter implements AsyncIterable<CowEvent> {
  /** Resolves when the watcher stops (stop(), the signal, the COW becoming invalid, or the device going). */
  readonly done: Promise<void>;
  private readonly ac = new AbortController();
  private readonly queue: CowEvent[] = [];
  private wake?: () => void;
  private ended = false;

  constructor(readonly device: string, o: WatchCowOptions) {
    super();
    o.signal?.addEventListener('abort', () => this.stop(), { once: true });
    if (o.signal?.aborted) this.ac.abort();
    this.done = this.run(o).catch((error: Error) => this.push({ type: 'error', error })).finally(() => {
      this.ended = true;
      this.push({ type: 'end' });
    });
  }

  /** Stops watching; the iterator ends and `done` settles. */
  stop(): void {
    this.ac.abort();
  }

  private push(e: CowEvent): void {
    this.queue.push(e);
    this.wake?.();
    // 'error' without a listener would throw: the iterator and `done` report it instead.
    if (e.type !== 'error' || this.listenerCount('error') > 0) this.emit(e.type, e);
    this.emit('event', e);
  }

  /** Iterates the events until the watcher ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<CowEvent> {
    for (;;) {
      const e = this.queue.shift();
      if (e) {
        yield e;
        if (e.type === 'end') return;
        continue;
      }
      if (this.ended && !this.queue.length) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }

  private async run(o: WatchCowOptions): Promise<void> {
    const signal = this.ac.signal;
    const thresholds = [...(o.thresholds ?? [50, 80, 90, 95])].sort((a, b) => a - b);
    const grow = o.grow === true ? {} : o.grow || undefined;
    const growAt = grow?.at ?? 80;
    const maxMs = o.intervalMs ?? 250;
    const warned = new Set<number>();
    let lastPercent = -1;
    let noRoom = false;
    // One DEV_WAIT stays armed: the kernel raises an event when a P store is invalidated. It wakes
    // the loop through `wakeLoop`; a poll never adds a reaction to that long-lived promise (one per
    // poll, kept until the event, grew a watcher's memory by about 100 MB a day). If the wait
    // itself fails (the device went away), nothing wakes: the next status read reports the error.
    let event = false;
    let wakeLoop: (() => void) | undefined;
    const arm = (): void => {
      dm.waitEvent(this.device, { signal }).then(
        () => {
          event = true;
          wakeLoop?.();
        },
        () => undefined,
      );
    };
    const nap = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => {
        if (event || signal.aborted) return resolve();
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wakeLoop = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakeLoop = done;
        signal.addEventListener('abort', done, { once: true });
      });
    arm();
    for (let delay = 20; !signal.aborted; ) {
      const s = storeStatus(this.device);
      if (!s) return; // its COW store ended (a merge finished, a snapshot or the device removed)
      if (s.state !== 'active') {
        this.push({ type: s.state, status: s });
        return;
      }
      const percent = percentFull(s)!;
      if (percent !== lastPercent) {
        this.push({ type: 'fill', percent, allocated: s.allocated, total: s.total });
        delay = 20; // changing: look again soon
      } else delay = Math.min(maxMs, delay * 2);
      lastPercent = percent;
      for (const t of thresholds) {
        if (percent >= t && !warned.has(t)) {
          warned.add(t);
          this.push({ type: 'warning', threshold: t, percent });
        } else if (percent < t) warned.delete(t); // re-armed once the store grew
      }
      if (grow && percent >= growAt) {
        const seen = performance.now();
        const d = await inspect(this.device);
        const file = d.cow?.file;
        if (file) {
          const from = BigInt(fs.statSync(file).size);
          const max = grow.max === undefined ? undefined : parseSize(grow.max);
          let to = from + (grow.by === undefined ? from : parseSize(grow.by));
          if (max !== undefined && to > max) to = max;
          to -= to % 512n;
          const free = freeBytes(file);
          if (to > from && free !== undefined && free < to - from) {
            if (!noRoom) this.push({ type: 'cannot-grow', percent, reason: `${file}'s filesystem has ${free} bytes free, less than the ${to - from} to add` });
            noRoom = true;
          } else if (to > from) {
            noRoom = false;
            await growCow(this.device, to);
            const after = cowStatus(this.device);
            this.push({ type: 'grown', fromBytes: from, toBytes: to, percent: percentFull(after) ?? percent, tookMs: Math.round(performance.now() - seen) });
            continue;
          }
        }
      }
      await nap(delay);
      if (event) {
        event = false;
        arm();
      }
    }
  }
}

/**
 * Watches a COW store's fill level (diverted device, snapshot, or merge), optionally growing a file-backed one.
 * @param name - The diverted device, snapshot or merging device.
 * @returns A CowWatcher, already running.
 * @throws TypeError / RangeError for bad options.
 */
export function watchCow(name: string, o: WatchCowOptions = {}): CowWatcher {
  checkName(name);
  checkWatchOptions(o);
  return new CowWatcher(name, o);
}

/** TypeError / RangeError for watch options that cannot work. */
export function checkWatchOptions(o: WatchCowOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  checkSignal(o.signal);
  if (o.thresholds !== undefined) {
    if (!Array.isArray(o.thresholds)) throw new TypeError('thresholds must be an array of percentages');
    for (const t of o.thresholds) if (typeof t !== 'number' || !(t > 0 && t <= 100)) throw new RangeError(`threshold ${t} is not a percentage in (0, 100]`);
  }
  if (o.grow !== undefined && typeof o.grow !== 'boolean' && (typeof o.grow !== 'object' || o.grow === null)) throw new TypeError('grow must be a boolean or { at?, by?, max? }');
  if (typeof o.grow === 'object') {
    const { at, by, max } = o.grow;
    if (at !== undefined && (typeof at !== 'number' || !(at > 0 && at <= 100))) throw new RangeError(`grow.at ${at} is not a percentage in (0, 100]`);
    for (const [k, v] of [['by', by], ['max', max]] as const) if (v !== undefined && parseSize(v) <= 0n) throw new RangeError(`grow.${k} must be a positive size`);
  }
  if (o.intervalMs !== undefined && (typeof o.intervalMs !== 'number' || !(o.intervalMs > 0))) throw new RangeError('intervalMs must be positive');
}
