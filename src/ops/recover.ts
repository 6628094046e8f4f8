// recover(): brings every recorded arrangement back to a whole state, after a reboot (the kernel's
// tables are gone: rebuild them from the record) or after a killed process (finish what passed its
// switch, undo what did not), and removes what devmapper left of its own with no record (bases no
// device uses). Running it again changes nothing.
import fs from 'node:fs';
import * as dm from '../dm';
import { locate, readJson, recordFiles, strayTemporaries } from '../records';
import type { RawTarget } from '../native';
import { refusal } from './errors';
import { devKey, infoOrNone, liveTable, mountsOf, secureTable, tableLength } from './kernel';
import { inspect } from './describe';
import { finishMerge, merge } from './merge';
import { withLocks, type LockOptions } from './lock';
import { baseOwner, baseUuid, BASE_UUID_PREFIX } from './naming';
import { cowWasLoaded, headSum, identities, readDivertRecord, readRecord, removeDivertRecord, writeDivertRecord, type DivertRecord } from './record';
import { removeDevice, Tx } from './transaction';
import { dropOwnedCow, Finder, rebuildPlain, settle } from './rebuild';
import { originDevices, recoverOrigin } from './recover-origin';
import { recoverMigration } from './migrate';
import { migrationRecordNames, readMigrationRecord } from './migrate-record';

/** Options of recover() and recoverDevice(). */
export interface RecoverOptions extends LockOptions {
  /** Wait for a merge that recover resumes or finds running, and finish it (default: leave it
   *  merging in the kernel; `dmctl merge NAME` follows and finishes it). */
  wait?: boolean;
}

/** What recover() found and did for one device. */
export interface RecoverReport {
  device: string;
  /** What recover found, in words. */
  found: string;
  /** What it did, step by step; empty when nothing was needed. */
  did: string[];
  /** The device's state afterwards; 'refused' when recover changed nothing and says why. */
  state: 'diverted' | 'merging' | 'origin' | 'migrating' | 'plain' | 'gone' | 'refused';
  error?: string;
}

/** Recovers every recorded device, then removes bases of ours that nothing uses and no record names. */
export async function recover(o: RecoverOptions = {}): Promise<RecoverReport[]> {
  const out: RecoverReport[] = [];
  for (const f of strayTemporaries()) fs.rmSync(f, { force: true });
  const recorded = new Set<string>();
  for (const file of recordFiles()) {
    const name = (readJson(file) as { device?: unknown } | undefined)?.device;
    if (typeof name !== 'string') {
      out.push({ device: file, found: 'a record that names no device', did: [], state: 'refused', error: `look at ${file}` });
      continue;
    }
    recorded.add(name);
    out.push(await recoverDevice(name, o));
  }
  for (const d of dm.listDevicesSync()) {
    const info = infoOrNone(d.name);
    const owner = baseOwner(info?.uuid);
    if (!info || owner === undefined || recorded.has(owner) || !info.uuid?.startsWith(BASE_UUID_PREFIX)) continue;
    if (info.openCount > 0) continue; // in use: the arrangement it belongs to is live
    await removeDevice(d.name);
    out.push({ device: owner, found: `a base ${d.name} that nothing uses and no record names`, did: [`removed ${d.name}`], state: infoOrNone(owner) ? 'plain' : 'gone' });
  }
  for (const name of migrationRecordNames()) out.push(await recoverMigrationOf(name, o));
  return out;
}

/** A migration a killed process (or a reboot) interrupted: followed, finished or undone. */
async function recoverMigrationOf(name: string, o: RecoverOptions): Promise<RecoverReport> {
  const did: string[] = [];
  try {
    return await withLocks('recover', [name], o, async () => {
      const r = readMigrationRecord(name);
      if (!r) return { device: name, found: 'no migration record (another process finished it)', did, state: infoOrNone(name) ? 'plain' : 'gone' };
      const found = `a migration to ${r.to.path} started by process ${r.pid} at ${r.started}`;
      const state = await recoverMigration(r, o, did);
      return { device: name, found, did, state };
    });
  } catch (err) {
    return { device: name, found: 'a migration record', did, state: 'refused', error: (err as Error).message };
  }
}

/** Recovers one recorded device under its lock. */
export async function recoverDevice(name: string, o: RecoverOptions = {}): Promise<RecoverReport> {
  try {
    // An origin's snapshots are locked with it (a record read again under the locks decides).
    const r = readRecord(name);
    const devices = r?.kind === 'origin' ? originDevices(r) : [name];
    return await withLocks('recover', devices, o, () => (readRecord(name)?.kind === 'origin' ? recoverOrigin(name, o) : recoverLocked(name, o)));
  } catch (err) {
    return { device: name, found: 'a record', did: [], state: 'refused', error: (err as Error).message };
  }
}

const finishing = (r: DivertRecord): boolean => r.operation?.name === 'discard' || r.operation?.name === 'finish-merge';

async function recoverLocked(name: string, o: RecoverOptions): Promise<RecoverReport> {
  const r = readDivertRecord(name);
  if (!r) return { device: name, found: 'no record (another process finished it)', did: [], state: infoOrNone(name) ? 'plain' : 'gone' };
  const did: string[] = [];
  await settle(name, did);
  await settle(r.base.name, did);
  const v = infoOrNone(name);
  const base = infoOrNone(r.base.name);
  const oursBase = base && baseOwner(base.uuid) === name ? base : undefined;
  const op = r.operation ? `; a ${r.operation.name} of process ${r.operation.pid} was in flight` : '';

  if (v) {
    const d = await inspect(name);
    if (d.state === 'diverted' || d.state === 'merging') {
      // The kernel holds the arrangement: the record follows it.
      if (r.operation || r.state !== d.state || (!r.baseHead && d.state === 'diverted')) {
        const { operation: _o, ...rest } = r;
        const baseHead = r.baseHead ?? (d.state === 'diverted' ? headSum(d.baseInfo!) : undefined);
        writeDivertRecord({ ...rest, state: d.state, ...(baseHead ? { baseHead } : {}) });
        did.push(`record brought up to date (${d.state})`);
      }
      const found = `${name} ${d.state}${op}`;
      if (d.state === 'merging' && (d.merge!.complete || o.wait)) {
        await (d.merge!.complete ? finishMerge(name) : merge(name));
        did.push('finished the merge');
        return { device: name, found, did, state: 'plain' };
      }
      return { device: name, found, did, state: d.state };
    }
    if (d.state !== 'plain') throw refusal(`${name} is ${d.state}, which its divert record does not describe`, 'EINVAL');
    if (oursBase) {
      // No reboot: a process died between its first step and its commit (or in its cleanup).
      if (finishing(r)) await endArrangement(r, did, oursBase.name);
      else await endArrangement(r, did, oursBase.name, 'undid the divert');
      return { device: name, found: `${name} plain beside its base${op}`, did, state: 'plain' };
    }
    if (finishing(r)) {
      await endArrangement(r, did);
      return { device: name, found: `${name} plain${op}`, did, state: 'plain' };
    }
    if (neverSwitched(r)) {
      await endArrangement(r, did, undefined, 'undid the divert (it had not switched)');
      return { device: name, found: `${name} plain${op}`, did, state: 'plain' };
    }
    // After a reboot the user's own boot script made V on its disk again: put it back diverted.
    await rebuild(r, did, true);
    return followMerge({ device: name, found: `${name} plain (made again after a reboot)${op}`, did, state: r.state }, o);
  }
  if (oursBase && finishing(r)) {
    await endArrangement(r, did, oursBase.name);
    return { device: name, found: `${name} gone, its base left${op}`, did, state: 'gone' };
  }
  if (oursBase) throw refusal(`${name} does not exist but its base ${oursBase.name} does: this is not a state devmapper leaves; look with 'dmctl ls --tree'`, 'EINVAL');
  if (finishing(r)) {
    await rebuildPlain(r, did);
    await endArrangement(r, did);
    return { device: name, found: `${name} gone (a reboot)${op}`, did, state: 'plain' };
  }
  if (neverSwitched(r)) {
    await rebuildPlain(r, did);
    await endArrangement(r, did, undefined, 'undid the divert (it had not switched)');
    return { device: name, found: `${name} gone (a reboot)${op}`, did, state: 'plain' };
  }
  await rebuild(r, did, false);
  return followMerge({ device: name, found: `${name} gone (a reboot)${op}`, did, state: r.state }, o);
}

/** A merge recover resumed: with `wait`, followed to its end and finished. */
async function followMerge(rep: RecoverReport, o: RecoverOptions): Promise<RecoverReport> {
  if (rep.state !== 'merging' || !o.wait) return rep;
  await merge(rep.device);
  return { ...rep, did: [...rep.did, 'finished the merge'], state: 'plain' };
}

/** A divert whose COW store never had a snapshot table loaded on it (its header is still zero, or
 *  the file was never made) cannot have switched: undo it. */
function neverSwitched(r: DivertRecord): boolean {
  if (r.operation?.name !== 'divert') return false;
  if (r.cow.file) return !cowWasLoaded(r.cow);
  const at = r.cow.device ? locate(r.cow.device) : undefined;
  return !cowWasLoaded(r.cow, at && 'num' in at ? at.num : undefined);
}

/** The arrangement is over (V plain): the COW store, the base and the record go. */
async function endArrangement(r: DivertRecord, did: string[], base?: string, what?: string): Promise<void> {
  if (base) {
    await removeDevice(base);
    did.push(`removed ${base}`);
  }
  await dropOwnedCow(r.cow, did);
  removeDivertRecord(r.device);
  did.push(what ?? 'removed the record');
}

/**
 * Diverted (or merging) again: a base on V's own table, checked against the record, and V over it
 * with its COW store. `vExists`: V is there, plain (made by the user's boot script); it must be
 * unused, and its table becomes the base's.
 */
async function rebuild(r: DivertRecord, did: string[], vExists: boolean): Promise<void> {
  const name = r.device;
  const finder = new Finder(did);
  let table: RawTarget[];
  if (vExists) {
    const info = dm.infoSync(name);
    const m = mountsOf(info);
    if (m.length || (await dm.settledOpenCount(name)) > 0) {
      throw refusal(`${name} is ${m.length ? `mounted on ${m.join(', ')}` : 'open'}: its writes since the divert are in its COW store, and must go back before it is used; unmount it (it may show old data), then run 'dmctl recover'`, 'EBUSY');
    }
    table = liveTable(name);
    const vNum = { major: info.major, minor: info.minor };
    if (r.baseHead && r.state === 'diverted' && headSum(vNum) !== r.baseHead) throw changed(r);
  } else table = await finder.table(r);
  const cowNum = await finder.cow(r.cow, name);
  const tx = new Tx('recover');
  const merging = r.state === 'merging';
  const baseName = r.base.name;
  const uuid = baseUuid(name, tx.nonce);
  try {
    await tx.run(async () => {
      await tx.create('base', baseName, uuid, { readOnly: !merging });
      await tx.load('base', baseName, table, { readOnly: !merging, secure: secureTable(table) });
      await tx.resume('base', baseName);
      const b = dm.infoSync(baseName);
      // A merge writes into the base: only a diverted one is still as frozen.
      if (!vExists && r.baseHead && !merging) {
        const sum = await tx.step('check base', async () => headSum(b));
        if (sum !== r.baseHead) throw changed(r);
      }
      const t = { start: 0n, length: tableLength(table), type: merging ? 'snapshot-merge' : 'snapshot', params: `${devKey(b)} ${devKey(cowNum)} ${r.cow.persistent} ${r.cow.chunkSectors}` };
      if (vExists) {
        await tx.load('V', name, [t], { readOnly: r.readOnly });
        await tx.freeze([{ role: 'V', name }]);
      } else {
        await tx.step('create V', () => dm.create(name, { ...(r.uuid ? { uuid: r.uuid } : {}) }), async () => void (await removeDevice(name)));
        await tx.load('V', name, [t], { readOnly: r.readOnly });
        await tx.resume('V', name);
      }
      tx.commit();
      const { operation: _o, ...rest } = r;
      writeDivertRecord({ ...rest, base: { name: baseName, uuid }, devices: identities(table) });
    });
  } finally {
    await finder.release();
  }
  did.push(`made ${baseName} on ${name}'s own table${r.baseHead && !merging ? ' (its first MiB as recorded)' : ''}`, `${name} ${merging ? 'merging' : 'diverted'} again over it`);
}

function changed(r: DivertRecord): Error {
  return refusal(`${r.device}'s disk changed since the divert (its first MiB differs from the record: mounted read-write after a reboot?); merging its COW store now would corrupt it, so nothing was done. Look at ${r.cow.file ?? 'the COW store'} and the record before deciding`, 'EIO');
}
