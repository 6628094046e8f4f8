// monitor(): what dmeventd is to LVM, for devmapper's arrangements. One CowWatcher per diverted
// device, snapshot and merging device, found again every `rescanMs` (so ones made after it started
// are followed too): through the records and through the kernel's device list (devmapper's names
// and uuids say which devices are bases and snapshots). A watcher that ends (its snapshot went, its
// merge finished, an error) is dropped and the device picked up again if it is still watchable.
import { EventEmitter } from 'node:events';
import * as dm from '../dm';
import { checkName } from '../dm/validate';
import { readJson, recordFiles } from '../records';
import { inspect } from './describe';
import { infoOrNone } from './kernel';
import { checkWatchOptions, watchCow, type CowEvent, type CowWatcher, type WatchCowOptions } from './monitor';
import { baseOwner, isSnapUuid } from './naming';
import { checkSignal } from './options';

/** Options of monitor(). */
export interface MonitorOptions extends Omit<WatchCowOptions, 'signal'> {
  /** Follow only these devices (they may appear later); default: every one devmapper arranged. */
  names?: string[];
  /** How often to look for devices to follow (default 1000 ms). */
  rescanMs?: number;
  signal?: AbortSignal;
}

/** An event of monitor(): a CowEvent with its device, or a device now watched or no longer watched. */
export type MonitorEvent =
  | ({ device: string } & CowEvent)
  | { device: string; type: 'watching'; state: string }
  | { device: string; type: 'unwatched' };

const WATCHED = new Set(['diverted', 'snapshot', 'merging']);

/** The names of devices that may have a COW store: recorded ones, owners of bases, snapshots. */
function candidates(): Set<string> {
  const out = new Set<string>();
  for (const f of recordFiles()) {
    const name = (readJson(f) as { device?: unknown } | undefined)?.device;
    if (typeof name === 'string') out.add(name);
  }
  for (const d of dm.listDevicesSync()) {
    const uuid = infoOrNone(d.name)?.uuid;
    const owner = baseOwner(uuid);
    if (owner !== undefined) out.add(owner);
    if (isSnapUuid(uuid)) out.add(d.name);
  }
  return out;
}

/** Follows COW stores until stopped: an EventEmitter of MonitorEvent ('event', and each type). */
export class Monitor extends EventEmitter {
  /** Settles when the monitor has stopped. */
  readonly done: Promise<void>;
  private readonly watchers = new Map<string, CowWatcher>();
  private readonly ac = new AbortController();

  constructor(private readonly o: MonitorOptions) {
    super();
    o.signal?.addEventListener('abort', () => this.stop(), { once: true });
    if (o.signal?.aborted) this.ac.abort();
    this.done = this.run();
  }

  /** Devices followed now. */
  get devices(): string[] {
    return [...this.watchers.keys()].sort();
  }

  /** Stops following every device; `done` then settles. */
  stop(): void {
    this.ac.abort();
  }

  private send(e: MonitorEvent): void {
    this.emit('event', e);
    if (e.type !== 'error' || this.listenerCount('error') > 0) this.emit(e.type, e);
  }

  private async scan(): Promise<void> {
    const wanted = this.o.names ? new Set(this.o.names) : candidates();
    for (const name of wanted) {
      if (this.watchers.has(name) || !infoOrNone(name)) continue;
      const d = await inspect(name).catch(() => undefined);
      if (!d || !WATCHED.has(d.state) || this.ac.signal.aborted) continue;
      const { names: _n, rescanMs: _r, signal: _s, ...watchOpts } = this.o;
      const w = watchCow(name, { ...watchOpts, signal: this.ac.signal });
      this.watchers.set(name, w);
      this.send({ device: name, type: 'watching', state: d.state });
      w.on('event', (e: CowEvent) => {
        if (e.type !== 'end') this.send({ device: name, ...e });
      });
      void w.done.then(() => {
        this.watchers.delete(name);
        this.send({ device: name, type: 'unwatched' });
      });
    }
  }

  private async run(): Promise<void> {
    const signal = this.ac.signal;
    while (!signal.aborted) {
      try {
        await this.scan();
      } catch (err) {
        this.send({ device: '', type: 'error', error: err as Error });
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.o.rescanMs ?? 1000);
        function done(): void {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
    await Promise.all([...this.watchers.values()].map((w) => w.done));
  }
}

/** Starts following every COW store devmapper arranged (or those of `names`); see Monitor. */
export function monitor(o: MonitorOptions = {}): Monitor {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  checkSignal(o.signal);
  if (o.names !== undefined) {
    if (!Array.isArray(o.names)) throw new TypeError('names must be an array of device names');
    for (const n of o.names) checkName(n);
  }
  if (o.rescanMs !== undefined && (typeof o.rescanMs !== 'number' || !(o.rescanMs > 0))) throw new RangeError('rescanMs must be positive');
  checkWatchOptions(o);
  return new Monitor(o);
}
