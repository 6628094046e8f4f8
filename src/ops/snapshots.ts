// Point-in-time snapshots beside a live origin, as LVM does them: V becomes snapshot-origin over
// the hidden base; each snapshot S is `snapshot <base> <cow>`. The kernel's rules: the origin is
// suspended while a snapshot loads or unloads, and the old snapshot is suspended before a merging
// origin resumes.
import * as dm from '../dm';
import { flushBuffers } from '../loop';
import { checkName } from '../dm/validate';
import { checkCowSpec, dropCow, prepareCow, type CowInfo, type CowSpec } from './cow';
import { inspect, snapshotsOf, refuseMidChange } from './describe';
import { refusal } from './errors';
import { devKey, infoOrNone, mountsOf, pathOf, secureTable, tableLength } from './kernel';
import { completeMerge, inUse, lastChange, type MergeOptions, type MergeResult } from './merge';
import { checkLockOptions, withLocks, type LockOptions } from './lock';
import { baseName, baseUuid, checkOpsName, snapUuid } from './naming';
import { checkObject, checkStore, type SnapshotStoreOptions } from './options';
import { removeLeftoverBase } from './divert';
import { removeDevice, Tx } from './transaction';
import { markOperation, recordStep, refuseInterrupted } from './record';
import { dropSnapshotFromRecord, recordSnapshotStart, restoreOriginRecord, snapRecord, type OriginRecord } from './origin-record';

/** Options of createSnapshot(): the COW store, chunk size, persistence and lock wait. */
export interface SnapshotOptions extends SnapshotStoreOptions, LockOptions {
  cow: CowSpec;
}

/** What createSnapshot() made. */
export interface SnapshotInfo {
  name: string;
  /** /dev/mapper/<snapName>: readable, mountable (read-only is wise) while the origin changes. */
  path: string;
  origin: string;
  base: string;
  cow: CowInfo;
  chunkSectors: number;
  persistent: 'P' | 'PO';
}

/**
 * Creates a point-in-time snapshot of a live device; the origin keeps running, its old data goes to the COW.
 * @param origin - The device to snapshot.
 * @param snapName - The new snapshot device's name.
 * @returns The snapshot made.
 * @throws OperationError if a step fails (rolled back); DeviceLockedError if another operation holds a device.
 */
export async function createSnapshot(origin: string, snapName: string, o: SnapshotOptions): Promise<SnapshotInfo> {
  checkOpsName(origin, 'origin');
  checkOpsName(snapName, 'snapshot name');
  if (snapName === origin || snapName === baseName(origin)) throw new RangeError('the snapshot needs a name of its own');
  checkObject(o);
  const cowPlan = checkCowSpec(o.cow);
  const { chunk, store } = checkStore(o);
  checkLockOptions(o);
  const tx = new Tx('snapshot');
  return withLocks('snapshot', [origin, snapName], o, () => tx.run(async () => {
    const d = await tx.step('inspect', async () => {
      if (infoOrNone(snapName)) throw refusal(`a device named ${snapName} already exists${lastChange(snapName)}`, 'EEXIST');
      const d = await inspect(origin);
      if (d.state !== 'plain' && d.state !== 'origin') throw refusal(`${origin} is ${d.state}: snapshots need a plain device or an origin`, 'EBUSY');
      refuseMidChange(d, origin);
      refuseInterrupted(origin, d.state);
      return d;
    });
    if (d.leftoverBase) await removeLeftoverBase(tx, origin);
    // Durable before the first change, as divert's: a crash from here on is finished or undone.
    const sUuid = snapUuid(snapName, tx.nonce);
    const baseRec = d.state === 'plain' ? { name: baseName(origin), uuid: baseUuid(origin, tx.nonce) } : { name: d.baseInfo!.name, uuid: d.baseInfo!.uuid ?? '' };
    let before: OriginRecord | undefined;
    await tx.step('write record', async () => {
      before = recordSnapshotStart({
        origin, uuid: d.info.uuid, readOnly: d.info.flags.readOnly, ownTable: d.state === 'plain' ? d.table : d.baseTable!, base: baseRec,
        snap: snapRecord(snapName, sUuid, cowPlan.kind === 'file' ? { file: cowPlan.file } : { device: cowPlan.path }, chunk, store),
      });
    }, async () => restoreOriginRecord(origin, before));
    const cow = await prepareCow(tx, cowPlan, { serves: origin, chunkSectors: chunk });
    const length = tableLength(d.table);
    let base = d.baseInfo;
    if (d.state === 'plain') {
      const name = baseName(origin);
      // The origin's writes go through snapshot-origin into the base: it stays writable.
      await tx.create('base', name, baseRec.uuid);
      await tx.load('base', name, d.table, { secure: secureTable(d.table) });
      await tx.resume('base', name);
      base = dm.infoSync(name);
      await tx.load('V', origin, [{ start: 0n, length, type: 'snapshot-origin', params: devKey(base) }], { readOnly: d.info.flags.readOnly });
    }
    await tx.create('S', snapName, sUuid);
    // The point in time: the origin is frozen while the snapshot loads and goes live.
    await tx.suspend('V', origin);
    await tx.load('S', snapName, [{ start: 0n, length, type: 'snapshot', params: `${devKey(base!)} ${cow.dev} ${store} ${chunk}` }]);
    await tx.resume('S', snapName);
    await tx.resume('V', origin);
    tx.commit();
    await tx.cleanup('commit record', async () => markOperation(origin, undefined));
    // The table holds the loop device now; the descriptor that kept it bound goes, whatever happens.
    tx.afterCommit(() => cow.release());
    await tx.cleanup('release cow', () => cow.release());
    const { num: _n, release: _r, ...cowOut } = cow;
    return { name: snapName, path: dm.nodePath(snapName), origin, base: base!.name, cow: cowOut, chunkSectors: chunk, persistent: store };
  }));
}

/** Drops a snapshot (its COW store too, if devmapper made it). The last one takes the origin back to
 *  its original table and removes the base. */
export async function removeSnapshot(snapName: string, o: LockOptions = {}): Promise<void> {
  checkName(snapName, 'snapshot name');
  checkObject(o);
  checkLockOptions(o);
  const origin = await originOf(snapName);
  const tx = new Tx('remove-snapshot');
  await withLocks('remove-snapshot', [snapName, ...origin], o, () => tx.run(async () => {
    const { s, v, others } = await tx.step('inspect', async () => {
      if (!infoOrNone(snapName)) throw refusal(`no snapshot named ${snapName}${lastChange(snapName)}`, 'ENXIO');
      const s = await inspect(snapName);
      if (s.state !== 'snapshot') throw refusal(`${snapName} is ${s.state}, not a snapshot made by createSnapshot${lastChange(snapName)}`, 'EINVAL');
      sameOrigin(s.origin!, origin);
      if ((await dm.settledOpenCount(snapName)) > 0) throw refusal(`${snapName} is open or mounted`, 'EBUSY');
      const v = await inspect(s.origin!);
      if (v.state !== 'origin' && v.state !== 'merging') throw refusal(`its origin ${s.origin} is ${v.state}`, 'EINVAL');
      refuseMidChange(v, v.name);
      refuseInterrupted(v.name, v.state);
      return { s, v, others: await snapshotsOf(s.baseInfo!, snapName) };
    });
    await recordStep(tx, v.name, 'remove-snapshot', snapName);
    const last = others.length === 0 && v.state === 'origin';
    if (last) await tx.load('V', v.name, s.baseTable!, { readOnly: v.info.flags.readOnly, secure: secureTable(s.baseTable!) });
    await tx.suspend('V', v.name);
    // No retries while the origin is frozen: the opener check above makes EBUSY unlikely.
    await tx.remove('S', snapName, false);
    tx.commit();
    await tx.resume('V', v.name);
    await tx.cleanup('drop cow', () => dropCow(s.cow!));
    if (last) await tx.cleanup('remove base', () => removeDevice(s.baseInfo!.name));
    await tx.cleanup('commit record', async () => dropSnapshotFromRecord(v.name, snapName));
  }));
}

/** The origin a snapshot names before its lock is held: the locks to take. The operation checks it
 *  again under the lock (sameOrigin), since it may change while it waits. */
async function originOf(snapName: string): Promise<string[]> {
  try {
    const s = await inspect(snapName);
    return s.state === 'snapshot' ? [s.origin!] : [];
  } catch {
    return []; // no such device: the operation says so under the lock
  }
}

function sameOrigin(origin: string, locked: string[]): void {
  if (!locked.includes(origin)) throw refusal(`the snapshot's origin changed to ${origin} while waiting for its lock`, 'EAGAIN');
}

/** Options of rollback(). */
export interface RollbackOptions extends MergeOptions {
  /** Roll back even while the origin is mounted or open (its filesystem sees its data change). */
  force?: boolean;
}

/** Rolls the origin back to the snapshot by merging it: the snapshot device goes away at once, the
 *  origin shows the snapshot's contents at once, and the kernel copies in the background. */
export async function rollback(snapName: string, o: RollbackOptions = {}): Promise<MergeResult> {
  checkName(snapName, 'snapshot name');
  checkObject(o);
  if (o.force !== undefined && typeof o.force !== 'boolean') throw new TypeError('force must be a boolean');
  checkLockOptions(o);
  const since = Date.now();
  const locked = await originOf(snapName);
  const tx = new Tx('rollback');
  const origin = await withLocks('rollback', [snapName, ...locked], o, () => tx.run(async () => {
    const { s, v } = await tx.step('inspect', async () => {
      if (!infoOrNone(snapName)) throw refusal(`no snapshot named ${snapName}${lastChange(snapName)}`, 'ENXIO');
      const s = await inspect(snapName);
      if (s.state !== 'snapshot') throw refusal(`${snapName} is ${s.state}, not a snapshot made by createSnapshot${lastChange(snapName)}`, 'EINVAL');
      sameOrigin(s.origin!, locked);
      if ((await dm.settledOpenCount(snapName)) > 0) throw refusal(`${snapName} is open or mounted`, 'EBUSY');
      if (s.persistent === 'N') throw refusal('a transient (N) snapshot cannot be merged', 'EINVAL');
      if (s.cow!.status.state !== 'active') throw refusal(`${snapName} is ${s.cow!.status.state}: it cannot be merged`, 'EIO');
      const v = await inspect(s.origin!);
      if (v.state !== 'origin') throw refusal(`its origin ${s.origin} is ${v.state}`, 'EBUSY');
      refuseMidChange(v, v.name);
      const busy = await inUse(v);
      if (busy && !o.force) throw refusal(`${v.name} is ${busy}: unmount it first, or pass force`, 'EBUSY');
      refuseInterrupted(v.name, v.state);
      return { s, v };
    });
    await recordStep(tx, v.name, 'rollback', snapName);
    const base = s.baseInfo!;
    const merge = { start: 0n, length: tableLength(v.table), type: 'snapshot-merge', params: `${devKey(base)} ${s.cow!.dev} ${s.persistent} ${s.chunkSectors}` };
    await tx.load('V', v.name, [merge], { readOnly: v.info.flags.readOnly });
    await tx.suspend('S', snapName);
    await tx.suspend('V', v.name);
    await tx.resume('V', v.name);
    tx.commit();
    await tx.cleanup('commit record', async () => dropSnapshotFromRecord(v.name, snapName, true));
    // As in discard(): whoever holds V open must not keep reading pages of the writes rolled back.
    if (!mountsOf(v.info).length) await tx.cleanup('flush V page cache', () => flushBuffers(pathOf(v.info)));
    // The snapshot's exceptions now belong to the merging origin: S is gone in all but name, and
    // cannot be resumed. It must not stay suspended either, so it goes, whatever happens next.
    tx.afterCommit(() => removeDevice(snapName, { attempts: 5, delayMs: 100 }));
    await tx.cleanup('remove S', () => removeDevice(snapName, false));
    return v.name;
  }));
  if (o.wait === false) return { name: origin, state: 'merging' };
  return completeMerge(origin, o, since);
}
