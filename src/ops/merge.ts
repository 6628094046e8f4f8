// merge(): fold a diverted V's COW back into its base and return V to its original table.
// discard(): return V to its original table, dropping the writes made since the divert.
// The merge itself runs in the kernel: a later process can follow it and finish it.
import * as dm from '../dm';
import { flushBuffers } from '../loop';
import { isInvalid, mergeComplete, mergeProgress, parseSnapshotStatus } from '../table';
import { dropCow } from './cow';
import { inspect, snapshotsOf, type Inspection, refuseMidChange } from './describe';
import { refusal, refused } from './errors';
import { devKey, infoOrNone, mountsOf, pathOf, secureTable, tableLength } from './kernel';
import { checkOpsName } from './naming';
import { checkObject, checkSignal } from './options';
import { checkLockOptions, heldLock, withLocks, type LockOptions, type LockRecord } from './lock';
import { removeDevice, Tx } from './transaction';
import { markOperation, readRecord, recordStep, refuseInterrupted, removeDivertRecord } from './record';
import { mergeEndedInRecord } from './origin-record';

/** Marks `op` in flight in V's record before its switch; a rollback clears the mark. */
import { pause } from './wait';

/** Progress of a merge, passed to `onProgress`. */
export interface MergeProgress {
  /** 0..1, measured from the first status this process saw. */
  fraction: number;
  /** COW sectors still in use (data + metadata), and the metadata alone (the end point). */
  allocated: bigint;
  metadata: bigint;
  total: bigint;
}

/** Options of merge() and waitMerge(). */
export interface MergeOptions extends LockOptions {
  /** Called with each progress reading while the merge is waited for. */
  onProgress?: (p: MergeProgress) => void;
  /** Stops waiting (the merge goes on in the kernel; call merge() again to follow and finish it). */
  signal?: AbortSignal;
  /** false: start the merge and return at once. Default true: wait and finish. */
  wait?: boolean;
  /** Longest pause between two status reads (default 500 ms); the first ones are shorter. */
  pollMs?: number;
}

/** What merge() did. */
export interface MergeResult {
  name: string;
  /** 'merging': started, not waited for; 'done': V is back on its original table, the base removed. */
  state: 'merging' | 'done';
  /** Another operation finished this merge while this one waited or followed it (its lock record). */
  mergedBy?: { pid: number; operation: string; at: string };
}

function checkMergeOptions(o: MergeOptions): void {
  checkObject(o);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  checkSignal(o.signal);
  if (o.wait !== undefined && typeof o.wait !== 'boolean') throw new TypeError('wait must be a boolean');
  if (o.pollMs !== undefined && (typeof o.pollMs !== 'number' || !(o.pollMs > 0))) throw new RangeError('pollMs must be a positive number');
  checkLockOptions(o);
}

/** The merge of `name` that another operation finished after `since` (by the lock record it left). */
function mergedElsewhere(name: string, since: number): MergeResult['mergedBy'] {
  const p = heldLock(name)?.previous;
  if (p?.outcome !== 'merged' || !p.released || Date.parse(p.released) < since) return undefined;
  return { pid: p.pid, operation: p.operation, at: p.released };
}

/** "(last changed by discard of process 123 at ...)", from a lock record, for refusals. */
export function lastChange(name: string): string {
  const p: LockRecord | undefined = heldLock(name)?.previous;
  return p ? ` (last changed by ${p.operation} of process ${p.pid} at ${p.released ?? p.since})` : '';
}

/** The device is mounted or held open by someone (not by a passing udev probe). */
export async function inUse(d: Inspection): Promise<string | undefined> {
  const m = mountsOf(d.info);
  if (m.length) return `mounted on ${m.join(', ')}`;
  const open = await dm.settledOpenCount(d.name);
  return open > 0 ? `open (${open})` : undefined;
}

/**
 * Starts the merge of a diverted device (or follows one already running), waits for the kernel to
 * finish copying, and finishes it. The device's lock is held to start and to finish, not across
 * the wait: a second merge of the same device follows the same kernel merge, and when another
 * process finishes it first, this one says so (`mergedBy`) and succeeds.
 */
export async function merge(name: string, o: MergeOptions = {}): Promise<MergeResult> {
  checkOpsName(name);
  checkMergeOptions(o);
  const since = Date.now();
  const by = await withLocks('merge', [name], o, async () => {
    const d = await inspect(name);
    if (d.state === 'diverted') await startMerge(name);
    else if (d.state === 'plain' && mergedElsewhere(name, since)) return mergedElsewhere(name, since);
    else if (d.state !== 'merging') throw refused('merge', 'inspect', refusal(`${name} is ${d.state}: only a diverted device can be merged${lastChange(name)}`, 'EINVAL'));
    return undefined;
  });
  if (by) return { name, state: 'done', mergedBy: by };
  if (o.wait === false) return { name, state: 'merging' };
  return completeMerge(name, o, since);
}

/** Waits for a started merge and finishes it under the device's lock; when another operation
 *  finished it after `since`, says so instead. */
export async function completeMerge(name: string, o: MergeOptions, since: number): Promise<MergeResult> {
  // Stops early when the device stops merging: someone else finished it (checked under the lock).
  await pollMerge(name, o);
  return withLocks('finish-merge', [name], o, async () => {
    if (infoOrNone(name) && (await inspect(name)).state === 'plain') {
      const by = mergedElsewhere(name, since);
      if (by) return { name, state: 'done', mergedBy: by };
      throw refused('merge', 'finish', refusal(`${name} stopped merging and is plain, but no merge finished it${lastChange(name)}`, 'EIO'));
    }
    await finishMergeTx(name);
    heldLock(name)?.setOutcome('merged');
    return { name, state: 'done' };
  });
}

async function startMerge(name: string): Promise<void> {
  const tx = new Tx('merge');
  await tx.run(async () => {
    const d = await tx.step('inspect', async () => {
      const d = await inspect(name);
      if (d.state !== 'diverted') throw refusal(`${name} is ${d.state}, not diverted`, 'EINVAL');
      refuseMidChange(d, name);
      if (d.persistent === 'N') throw refusal('a transient (N) COW cannot be merged', 'EINVAL');
      if (d.cow!.status.state !== 'active') throw refusal(`the COW is ${d.cow!.status.state}: nothing can be merged`, 'EIO');
      refuseInterrupted(name, d.state);
      return d;
    });
    const base = d.baseInfo!;
    // snapshot-merge writes into its origin: the base must be writable first.
    if (base.flags.readOnly) {
      await tx.load('base', base.name, d.baseTable!, { readOnly: false, secure: secureTable(d.baseTable!) });
      await tx.freeze([{ role: 'base', name: base.name }], { skipLockfs: true });
    }
    const t = { start: 0n, length: tableLength(d.table), type: 'snapshot-merge', params: `${devKey(base)} ${d.cow!.dev} ${d.persistent} ${d.chunkSectors}` };
    await tx.load('V', name, [t], { readOnly: d.info.flags.readOnly });
    await recordStep(tx, name, 'merge');
    // V's old snapshot table is suspended before the merging table resumes (exception handover).
    await tx.freeze([{ role: 'V', name }]);
    tx.commit();
    await tx.cleanup('commit record', async () => markOperation(name, undefined, { state: 'merging' }));
  });
}

/** Follows a running merge until the kernel reports it complete. The kernel raises no event for
 *  merge progress, so this reads the status (tens of microseconds) at growing intervals. */
export async function waitMerge(name: string, o: MergeOptions = {}): Promise<void> {
  const types = await pollMerge(name, o);
  if (types !== undefined) throw refusal(`${name} is not merging (its table is ${types})`, 'EINVAL');
}

/** waitMerge's loop: undefined once the merge is complete, or the table's target types once the
 *  device is no longer merging (another process may have finished it). */
async function pollMerge(name: string, o: MergeOptions): Promise<string | undefined> {
  const signal = checkSignal(o.signal);
  const maxMs = o.pollMs ?? 500;
  let initial: bigint | undefined;
  for (let delay = Math.min(20, maxMs); ; delay = Math.min(maxMs, delay * 2)) {
    signal?.throwIfAborted();
    // One DEV_STATUS gives the target type and its status together: a table swapped by another
    // process between two reads cannot pass for a failed merge.
    const line = infoOrNone(name) ? dm.statusSync(name) : []; // gone: finished and removed elsewhere
    if (line.length !== 1 || line[0].type !== 'snapshot-merge') return line.map((x) => x.type).join(', ') || 'gone';
    const s = parseSnapshotStatus(line[0].params);
    if (isInvalid(s) || s.state !== 'active') throw refusal(`the merge of ${name} failed: the kernel reports ${s.state}`, 'EIO');
    initial ??= s.allocated;
    o.onProgress?.({ fraction: mergeProgress(s, initial) ?? 0, allocated: s.allocated, metadata: s.metadata, total: s.total });
    if (mergeComplete(s)) return undefined;
    await pause(delay, signal);
  }
}

/** After a finished merge: V back to its original table (or to snapshot-origin while other
 *  snapshots of the base remain), then the base and the COW store go. */
export async function finishMerge(name: string, o: LockOptions = {}): Promise<void> {
  checkOpsName(name);
  checkObject(o);
  await withLocks('finish-merge', [name], o, async () => {
    await finishMergeTx(name);
    heldLock(name)?.setOutcome('merged');
  });
}

async function finishMergeTx(name: string): Promise<void> {
  const tx = new Tx('finish-merge');
  await tx.run(async () => {
    const { d, others } = await tx.step('inspect', async () => {
      const d = await inspect(name);
      if (d.state !== 'merging') throw refusal(`${name} is ${d.state}, not merging`, 'EINVAL');
      if (!d.merge!.complete) throw refusal(`the merge of ${name} has not finished`, 'EBUSY');
      refuseMidChange(d, name);
      refuseInterrupted(name, d.state);
      return { d, others: await snapshotsOf(d.baseInfo!) };
    });
    const base = d.baseInfo!;
    const next = others.length
      ? [{ start: 0n, length: tableLength(d.table), type: 'snapshot-origin', params: devKey(base) }]
      : d.baseTable!;
    await tx.load('V', name, next, { readOnly: d.info.flags.readOnly, secure: secureTable(next) });
    await recordStep(tx, name, 'finish-merge');
    await tx.freeze([{ role: 'V', name }]);
    tx.commit();
    // The COW file first: a base left behind is found and removed by the next operation on V, a
    // file is not. The record last: until it goes, recover knows what is left to do.
    await tx.cleanup('drop cow', () => dropCow(d.cow!));
    if (!others.length) await tx.cleanup('remove base', () => removeDevice(base.name));
    await tx.cleanup('remove record', async () => (readRecord(name)?.kind === 'origin' ? mergeEndedInRecord(name) : removeDivertRecord(name)));
  });
}

/** Options of discard(). */
export interface DiscardOptions extends LockOptions {
  /** Discard even while V is mounted or open (its filesystem then sees its data change under it). */
  force?: boolean;
}

/** V back to its original table: everything written since divert() is dropped. */
export async function discard(name: string, o: DiscardOptions = {}): Promise<void> {
  checkOpsName(name);
  checkObject(o);
  if (o.force !== undefined && typeof o.force !== 'boolean') throw new TypeError('force must be a boolean');
  checkLockOptions(o);
  const tx = new Tx('discard');
  await withLocks('discard', [name], o, () => tx.run(async () => {
    const d = await tx.step('inspect', async () => {
      const d = await inspect(name);
      if (d.state !== 'diverted') throw refusal(`${name} is ${d.state}, not diverted${lastChange(name)}`, 'EINVAL');
      refuseMidChange(d, name);
      const busy = await inUse(d);
      if (busy && !o.force) throw refusal(`${name} is ${busy}: unmount it first, or pass force`, 'EBUSY');
      refuseInterrupted(name, d.state);
      return d;
    });
    await tx.load('V', name, d.baseTable!, { readOnly: d.info.flags.readOnly, secure: secureTable(d.baseTable!) });
    await recordStep(tx, name, 'discard');
    await tx.freeze([{ role: 'V', name }]);
    tx.commit();
    // Whoever still holds V open must not read pages cached from the writes just dropped. A mounted
    // filesystem (force) is left alone: flushing would write its dirty pages into the restored image.
    if (!mountsOf(d.info).length) await tx.cleanup('flush V page cache', () => flushBuffers(pathOf(d.info)));
    await tx.cleanup('drop cow', () => dropCow(d.cow!));
    await tx.cleanup('remove base', () => removeDevice(d.baseInfo!.name));
    await tx.cleanup('remove record', async () => removeDivertRecord(name));
  }));
}
