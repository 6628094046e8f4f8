// recover() for an origin with point-in-time snapshots (an origin record). After a killed snapshot
// create, remove or rollback: the devices are settled (undone before the operation's switch,
// finished after it), then the record follows the kernel, and an origin left with no snapshot goes
// back to its own table. After a reboot: the base, the origin and every snapshot whose COW store
// had been loaded are made again (a rollback in flight resumes its merge: it may have begun).
import * as dm from '../dm';
import { inspect, type Inspection } from './describe';
import { refusal } from './errors';
import { devKey, infoOrNone, liveTable, mountsOf, secureTable, tableLength } from './kernel';
import { finishMerge, merge } from './merge';
import { baseOwner, baseUuid, snapUuid } from './naming';
import { cowWasLoaded, identities, writeRecord } from './record';
import { readOriginRecord, removeOriginRecord, type OriginRecord, type SnapRecord } from './origin-record';
import { dropOwnedCow, Finder, rebuildPlain, settle } from './rebuild';
import { removeDevice, Tx } from './transaction';
import type { RecoverOptions, RecoverReport } from './recover';

/** The devices an origin record names: the locks its recovery takes. */
export const originDevices = (r: OriginRecord): string[] => [r.device, ...r.snapshots.map((s) => s.name)];

export async function recoverOrigin(name: string, o: RecoverOptions): Promise<RecoverReport> {
  const r = readOriginRecord(name);
  if (!r) return { device: name, found: 'no record (another process finished it)', did: [], state: infoOrNone(name) ? 'plain' : 'gone' };
  const did: string[] = [];
  const op = r.operation ? `; a ${r.operation.name} of ${r.operation.snapshot ?? name} by process ${r.operation.pid} was in flight` : '';
  if (!infoOrNone(name)) {
    const base = infoOrNone(r.base.name);
    if (base && baseOwner(base.uuid) === name) throw refusal(`${name} does not exist but its base ${base.name} does: this is not a state devmapper leaves; look with 'dmctl ls --tree'`, 'EINVAL');
    return afterReboot(r, did, `${name} gone (a reboot)${op}`, o, false);
  }
  await settleOrigin(r, did);
  const d = await inspect(name);
  const found = `${name} ${d.state}${op}`;
  if (d.state === 'plain') {
    const left = infoOrNone(r.base.name);
    if (left && baseOwner(left.uuid) === name) {
      // The operation had not switched V (a create), or had switched it back (the last remove, a
      // finished rollback): what is left of the arrangement goes.
      await removeStaleSnapshots(r, [], did);
      await removeDevice(left.name);
      did.push(`removed ${left.name}`);
      await endRecord(r, did);
      return { device: name, found, did, state: 'plain' };
    }
    // No base: the machine went down, and the user's boot script made V again on its disk.
    return afterReboot(r, did, `${name} plain (made again after a reboot)${op}`, o, true);
  }
  if (d.state !== 'origin' && d.state !== 'merging') throw refusal(`${name} is ${d.state}, which its origin record does not describe`, 'EINVAL');
  const live = (d.snapshots ?? []).map((s) => s.name);
  await removeStaleSnapshots(r, live, did);
  // A rollback's merge that finished, killed before its COW file went.
  if (d.state === 'origin' && r.merging) await dropOwnedCow(r.merging.cow, did);
  if (d.state === 'origin' && !live.length) {
    await backToOwnTable(d, did);
    await endRecord(r, did);
    return { device: name, found, did, state: 'plain' };
  }
  followKernel(r, d, did);
  if (d.state === 'merging' && (d.merge!.complete || o.wait)) {
    await (d.merge!.complete ? finishMerge(name) : merge(name));
    did.push('finished the rollback');
    return { device: name, found, did, state: infoOrNone(name) && (await inspect(name)).state === 'origin' ? 'origin' : 'plain' };
  }
  return { device: name, found, did, state: d.state };
}

/**
 * Devices caught mid-operation: a rollback that switched V to merging has its snapshot removed
 * (its exceptions belong to the merge now, it must never resume); a remove that took its snapshot
 * away has V resumed as loaded; otherwise every table loaded and not live is dropped and every
 * device resumed. A snapshot a create had not made live (or made live over an origin that did not
 * switch) is removed.
 */
async function settleOrigin(r: OriginRecord, did: string[]): Promise<void> {
  const v = r.device;
  const live = liveTable(v);
  const mergeCow = live.length === 1 && live[0].type === 'snapshot-merge' ? live[0].params.split(' ')[1] : undefined;
  // Once the rollback committed its record, its snapshot is in `merging`, no longer in `snapshots`.
  const recorded = [...r.snapshots, ...(r.merging ? [r.merging] : [])];
  for (const s of recorded) {
    const t = infoOrNone(s.name) ? liveTable(s.name) : [];
    if (mergeCow && t.length === 1 && t[0].params.split(' ')[1] === mergeCow) {
      await removeDevice(s.name);
      did.push(`removed ${s.name} (its rollback had switched ${v} to merging)`);
    }
  }
  const gone = r.operation?.name === 'remove-snapshot' ? r.operation.snapshot : undefined;
  const removed = gone !== undefined && !infoOrNone(gone);
  if (removed && dm.infoSync(v).flags.suspended) {
    await dm.resume(v);
    did.push(`resumed ${v} (its snapshot was already removed)`);
  }
  await settle(v, did);
  await settle(r.base.name, did);
  for (const s of recorded) await settle(s.name, did);
}

/** Snapshot devices of the record that are not live snapshots of V go (a create undone); COW files
 *  of recorded snapshots that are gone are deleted. */
async function removeStaleSnapshots(r: OriginRecord, live: string[], did: string[]): Promise<void> {
  for (const s of r.snapshots) {
    if (live.includes(s.name)) continue;
    const i = infoOrNone(s.name);
    if (i && i.uuid === s.uuid) {
      await removeDevice(s.name);
      did.push(`removed ${s.name}`);
    }
    if (!infoOrNone(s.name)) await dropOwnedCow(s.cow, did);
  }
}

/** The record as the kernel has it now: its live snapshots, its state, no operation in flight. */
function followKernel(r: OriginRecord, d: Inspection, did: string[]): void {
  const live = new Set((d.snapshots ?? []).map((s) => s.name));
  const snapshots = r.snapshots.filter((s) => live.has(s.name));
  const merging = d.state === 'merging' ? (r.merging ?? r.snapshots.find((s) => s.name === r.operation?.snapshot)) : undefined;
  const next: OriginRecord = { ...r, state: d.state as 'origin' | 'merging', snapshots, ...(merging ? { merging } : {}) };
  if (!merging) delete next.merging;
  delete next.operation;
  if (JSON.stringify({ ...next, updated: '' }) === JSON.stringify({ ...r, updated: '' })) return;
  writeRecord(next);
  did.push(`record brought up to date (${d.state}, ${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'})`);
}

/** An origin with no snapshot left: V back on its own table, its base removed. */
async function backToOwnTable(d: Inspection, did: string[]): Promise<void> {
  const tx = new Tx('recover');
  await tx.run(async () => {
    await tx.load('V', d.name, d.baseTable!, { readOnly: d.info.flags.readOnly, secure: secureTable(d.baseTable!) });
    await tx.freeze([{ role: 'V', name: d.name }]);
    tx.commit();
    await tx.cleanup('remove base', () => removeDevice(d.baseInfo!.name));
  });
  did.push(`${d.name} back on its own table (no snapshot left)`, `removed ${d.baseInfo!.name}`);
}

async function endRecord(r: OriginRecord, did: string[]): Promise<void> {
  for (const s of [...r.snapshots, ...(r.merging ? [r.merging] : [])]) if (!infoOrNone(s.name)) await dropOwnedCow(s.cow, did);
  removeOriginRecord(r.device);
  did.push('removed the record');
}

/** Which recorded snapshots a reboot can bring back: those whose store had a table loaded on it
 *  (a create that never loaded one had not made it), with the merge a rollback started. */
function survivors(r: OriginRecord): { snaps: SnapRecord[]; merging?: SnapRecord } {
  const op = r.operation;
  const merging = r.merging ?? (op?.name === 'rollback' ? r.snapshots.find((s) => s.name === op.snapshot) : undefined);
  const loaded = (s: SnapRecord): boolean => {
    try {
      return s.cow.file ? cowWasLoaded(s.cow) : !!s.cow.device;
    } catch {
      return false;
    }
  };
  return { snaps: r.snapshots.filter((s) => s !== merging && loaded(s)), ...(merging ? { merging } : {}) };
}

/** V, its base and its snapshots made again; `vExists`: V is there, plain and unused. */
async function afterReboot(r: OriginRecord, did: string[], found: string, o: RecoverOptions, vExists: boolean): Promise<RecoverReport> {
  const name = r.device;
  const finder = new Finder(did);
  const { snaps, merging } = survivors(r);
  if (!snaps.length && !merging) {
    if (!vExists) await rebuildPlain(r, did);
    await endRecord(r, did);
    return { device: name, found, did, state: 'plain' };
  }
  let table;
  if (vExists) {
    const info = dm.infoSync(name);
    const m = mountsOf(info);
    if (m.length || (await dm.settledOpenCount(name)) > 0) throw refusal(`${name} is ${m.length ? `mounted on ${m.join(', ')}` : 'open'}: its snapshots need it to be their origin again; unmount it, then run 'dmctl recover'`, 'EBUSY');
    table = liveTable(name);
  } else table = await finder.table(r);
  const tx = new Tx('recover');
  const uuid = baseUuid(name, tx.nonce);
  const kept: SnapRecord[] = [];
  try {
    await tx.run(async () => {
      await tx.create('base', r.base.name, uuid);
      await tx.load('base', r.base.name, table, { secure: secureTable(table) });
      await tx.resume('base', r.base.name);
      const b = devKey(dm.infoSync(r.base.name));
      const length = tableLength(table);
      const vt = merging
        ? { start: 0n, length, type: 'snapshot-merge', params: `${b} ${devKey(await finder.cow(merging.cow, name))} ${merging.cow.persistent} ${merging.cow.chunkSectors}` }
        : { start: 0n, length, type: 'snapshot-origin', params: b };
      if (!vExists) await tx.step('create V', () => dm.create(name, { ...(r.uuid ? { uuid: r.uuid } : {}) }), async () => void (await removeDevice(name)));
      await tx.load('V', name, [vt], { readOnly: r.readOnly });
      for (const s of snaps) {
        let cow;
        try {
          cow = await finder.cow(s.cow, s.name);
        } catch (err) {
          did.push(`${s.name} not made again: ${(err as Error).message}`);
          continue;
        }
        const uuid = snapUuid(s.name, tx.nonce);
        await tx.create('S', s.name, uuid);
        await tx.load('S', s.name, [{ start: 0n, length, type: 'snapshot', params: `${b} ${devKey(cow)} ${s.cow.persistent} ${s.cow.chunkSectors}` }]);
        await tx.resume('S', s.name);
        kept.push({ ...s, uuid });
      }
      if (vExists) await tx.freeze([{ role: 'V', name }]);
      else await tx.resume('V', name);
      tx.commit();
    });
  } finally {
    await finder.release();
  }
  const { operation: _o, merging: _m, ...rest } = r;
  writeRecord({ ...rest, state: merging ? 'merging' : 'origin', base: { name: r.base.name, uuid }, devices: identities(table), snapshots: kept, ...(merging ? { merging } : {}) });
  for (const s of r.snapshots) if (s !== merging && !kept.some((k) => k.name === s.name)) await dropOwnedCow(s.cow, did);
  did.push(`made ${r.base.name} on ${name}'s own table`, `${name} ${merging ? 'merging (the rollback resumed)' : 'an origin'} again over it${kept.length ? `, with ${kept.map((s) => s.name).join(', ')}` : ''}`);
  const state = merging ? 'merging' : 'origin';
  if (merging && o.wait) {
    await merge(name);
    did.push('finished the rollback');
    return { device: name, found, did, state: kept.length ? 'origin' : 'plain' };
  }
  return { device: name, found, did, state };
}
