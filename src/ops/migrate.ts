// migrate(): a live device's data moved to another disk while it stays mounted and written, the
// way pvmove moves an LV: the kernel's mirror target copies, never user space.
//   start:  O = V's own table (hidden), M = linear over O; V loaded as linear over M and M as
//           `mirror core <region> O new`, then one freeze (suspend V, suspend M, resume M, resume V):
//           from then on every write goes through M, and M's recovery copies O to the new disk.
//   finish: once M is in sync, V loaded as linear over the new disk, the new disk flushed, V
//           suspended, M checked in sync again with V quiet, V resumed; M and O removed. The old
//           disk is then used by nothing.
//   abort:  V back on its own table (O, the mirror's primary, has every write), M and O removed.
import fs from 'node:fs';
import * as dm from '../dm';
import type { RawTarget } from '../native';
import { inspect, refuseMidChange, refuseNotPlain } from './describe';
import { refusal, refused } from './errors';
import { devKey, infoOrNone, pathOf, tableLength, tableText } from './kernel';
import { devRefToString, isTargetType, parseDevNum, parseStatus, parseTable, parseTarget, toRawTargets } from '../table';
import { Finder, rebuildPlain, settle } from './rebuild';
import { checkLockOptions, withLocks, type LockOptions } from './lock';
import { checkOpsName, moveName, moveUuid, oldName, oldUuid, migrationOwner } from './naming';
import { checkObject, checkSignal } from './options';
import { checkStoreDevice } from './store-check';
import { removeDevice, Tx } from './transaction';
import { pause } from './wait';
import { locate } from '../records';
import { migrationRecordPath, newMigrationRecord, readMigrationRecord, removeMigrationRecord, writeMigrationRecord, type MigrationRecord } from './migrate-record';

/** Options of migrate(). */
export interface MigrateOptions extends LockOptions {
  /** The block device to move to (starts a migration). Without it, migrate() follows and finishes
   *  the one under way. */
  to?: string;
  /** Wait for the copy and finish (default true); false returns once the kernel copies. */
  wait?: boolean;
  /** Cancel the migration under way: the device goes back on its own disk with every write. */
  abort?: boolean;
  /** Mirror region size in 512-byte sectors, a power of two (default 1024: 512 KiB). */
  regionSectors?: number;
  /** Progress while waiting, in bytes of the device in sync on the new disk. */
  onProgress?: (p: MigrateProgress) => void;
  /** Pause between two status reads while waiting (default 1000 ms). */
  pollMs?: number;
  /** Stops the wait (the migration goes on in the kernel) and the wait for a lock. */
  signal?: AbortSignal;
}

/** How far the kernel's copy is. */
export interface MigrateProgress {
  done: bigint;
  total: bigint;
}

/** What migrate() did. */
export interface MigrateResult {
  name: string;
  /** done: on the new disk; migrating: the kernel copies (wait: false); aborted: on its own disk. */
  state: 'done' | 'migrating' | 'aborted';
  /** The destination, as major:minor. */
  to?: string;
  /** How long V's I/O stood still at each switch this call made, in ms. */
  freezeMs: number[];
}

const MOVABLE = new Set(['linear', 'striped']);

function checkOptions(o: MigrateOptions): void {
  checkObject(o);
  checkSignal(o.signal);
  if (o.to !== undefined && (typeof o.to !== 'string' || !o.to)) throw new TypeError('to must be a block device path');
  if (o.abort !== undefined && typeof o.abort !== 'boolean') throw new TypeError('abort must be a boolean');
  if (o.abort && o.to !== undefined) throw new TypeError('abort takes no destination');
  if (o.wait !== undefined && typeof o.wait !== 'boolean') throw new TypeError('wait must be a boolean');
  const r = o.regionSectors;
  if (r !== undefined && !(Number.isInteger(r) && r >= 8 && r <= 1 << 21 && (r & (r - 1)) === 0)) throw new RangeError('regionSectors must be a power of two from 8 to 2097152');
  if (o.pollMs !== undefined && !(typeof o.pollMs === 'number' && o.pollMs > 0)) throw new RangeError('pollMs must be a positive number');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  checkLockOptions(o);
}

/**
 * Moves the live device `name` (a table of linear or striped segments) to the block device `o.to`,
 * or follows, finishes or (`abort`) cancels the migration under way. At the end `name` is one
 * linear target over the new disk, and the old disks are used by nothing.
 * @throws OperationError if a step fails (rolled back) or the device or destination is refused.
 */
export async function migrate(name: string, o: MigrateOptions = {}): Promise<MigrateResult> {
  checkOpsName(name);
  checkOptions(o);
  if (o.abort) return abortMigration(name, o);
  const freezeMs: number[] = [];
  let to: string | undefined;
  if (o.to !== undefined) {
    const started = await startMigration(name, o);
    freezeMs.push(started.freezeMs);
    to = started.to;
  } else {
    const d = await inspect(name);
    if (d.state !== 'migrating') throw refused('migrate', 'inspect', refusal(`${name} is ${d.state}: give a destination to start a migration`, 'EINVAL'));
  }
  to ??= readMigrationRecord(name)?.to.dev;
  if (o.wait === false) return { name, state: 'migrating', to, freezeMs };
  await waitInSync(name, o);
  freezeMs.push(await finishMigration(name, o));
  return { name, state: 'done', to, freezeMs };
}

/** The tables of a start: V's own (its segments), O's, M's. */
async function startMigration(name: string, o: MigrateOptions): Promise<{ freezeMs: number; to: string }> {
  const tx = new Tx('migrate');
  return withLocks('migrate', [name], o, () => tx.run(async () => {
    const { d, dest } = await tx.step('inspect', async () => {
      const d = await inspect(name);
      refuseNotPlain(d, name, 'migrated');
      refuseMidChange(d, name);
      const other = d.table.find((t) => !MOVABLE.has(t.type));
      if (other) throw refusal(`${name} has a ${other.type} target: migrate moves tables of linear or striped segments`, 'EINVAL');
      if (readMigrationRecord(name)) throw refusal(`${name} has a migration record but no migration: run 'dmctl recover' first`, 'EBUSY');
      for (const n of [oldName(name), moveName(name)]) if (infoOrNone(n)) throw refusal(`a device named ${n} already exists: run 'dmctl recover'`, 'EEXIST');
      const dest = await checkStoreDevice(o.to!, { serves: name, minBytes: tableLength(d.table) * 512n, role: 'destination' });
      return { d, dest };
    });
    const length = tableLength(d.table);
    const region = o.regionSectors ?? 1024;
    const old = { name: oldName(name), uuid: oldUuid(name, tx.nonce) };
    const move = { name: moveName(name), uuid: moveUuid(name, tx.nonce) };
    const record = newMigrationRecord({ name, uuid: d.info.uuid, readOnly: d.info.flags.readOnly, table: d.table, to: o.to!, toNum: dest.num, old, move, regionSectors: region });
    await tx.step('write record', async () => writeMigrationRecord(record), async () => removeMigrationRecord(name));
    await tx.create('old', old.name, old.uuid);
    await tx.load('old', old.name, d.table);
    await tx.resume('old', old.name);
    const oNum = devKey(dm.infoSync(old.name));
    // Step names: the mirror device starts as a linear over O ('mirror (linear)').
    await tx.create('mirror (linear)', move.name, move.uuid);
    await tx.load('mirror (linear)', move.name, [{ start: 0n, length, type: 'linear', params: `${oNum} 0` }]);
    await tx.resume('mirror (linear)', move.name);
    await tx.load('V', name, [{ start: 0n, length, type: 'linear', params: `${devKey(dm.infoSync(move.name))} 0` }], { readOnly: d.info.flags.readOnly });
    await tx.load('mirror', move.name, [{ start: 0n, length, type: 'mirror', params: `core 1 ${region} 2 ${oNum} 0 ${devKey(dest.num)} 0` }]);
    // M becomes a mirror only while V is suspended: no write reaches O except through M.
    const freezeMs = await tx.freeze([{ role: 'V', name }, { role: 'mirror', name: move.name }]);
    tx.commit();
    return { freezeMs, to: devKey(dest.num) };
  }));
}

/** The mirror's status: regions in sync of all, and each leg's health. */
function mirrorState(mirror: string): { inSync: bigint; total: bigint; healthy: boolean; health: string } {
  const st = dm.statusSync(mirror)[0];
  if (st?.type !== 'mirror') throw refusal(`${mirror} is not a mirror`, 'EINVAL');
  const m = parseStatus('mirror', st.params);
  const health = m.health.join('');
  return { inSync: m.inSyncRegions, total: m.totalRegions, healthy: /^A+$/.test(health), health };
}

/** Polls the mirror until every region is in sync; a failed leg ends the wait with an error. */
async function waitInSync(name: string, o: MigrateOptions): Promise<void> {
  const length = tableLength(dm.tableSync(name)) * 512n;
  const gone = async (): Promise<never> => {
    throw refused('migrate', 'wait', refusal(`${name} is ${(await inspect(name)).state}: another process finished or aborted its migration`, 'EINVAL'));
  };
  const d = await inspect(name);
  if (d.state !== 'migrating') return gone();
  const mirror = d.migration!.mirror;
  // One status read of the mirror per poll: the waiting process stays near idle while the kernel copies.
  for (;;) {
    let m: ReturnType<typeof mirrorState>;
    try {
      m = mirrorState(mirror);
    } catch {
      return gone();
    }
    if (m.total > 0n) o.onProgress?.({ done: (length * m.inSync) / m.total, total: length });
    if (!m.healthy && m.health) throw refused('migrate', 'wait', refusal(`a leg of ${mirror} failed (health ${m.health}): 'dmctl migrate ${name} --abort' puts ${name} back on its own disk`, 'EIO'));
    if (m.total > 0n && m.inSync === m.total) {
      if ((await inspect(name)).state !== 'migrating') return gone();
      return;
    }
    await pause(o.pollMs ?? 1000, o.signal);
  }
}

/** The step that finds `name` migrating, with its record (refused, saying `none`, otherwise). */
function migrating(tx: Tx, name: string, none: string): Promise<{ d: Awaited<ReturnType<typeof inspect>>; r: MigrationRecord }> {
  return tx.step('inspect', async () => {
    const d = await inspect(name);
    const r = readMigrationRecord(name);
    if (d.state !== 'migrating' || !r) throw refusal(`${name} is ${d.state}: ${none}`, 'EINVAL');
    refuseMidChange(d, name);
    return { d, r };
  });
}

/** Once V is off the mirror: the mirror, the old table and the record go. */
async function dropHelpers(tx: Tx, r: MigrationRecord): Promise<void> {
  await tx.cleanup('remove mirror', () => removeDevice(r.move.name));
  await tx.cleanup('remove old', () => removeDevice(r.base.name));
  await tx.cleanup('remove record', async () => removeMigrationRecord(r.device));
}

/** V onto the new disk alone, once M is in sync with V quiet; M and O removed. */
async function finishMigration(name: string, o: LockOptions): Promise<number> {
  const tx = new Tx('finish-migration');
  return withLocks('finish-migration', [name], o, () => tx.run(async () => {
    const { d, r } = await migrating(tx, name, 'nothing to finish');
    const length = tableLength(d.table);
    const to = newLeg(d.migration!.mirror);
    await tx.load('V', name, [{ start: 0n, length, type: 'linear', params: `${to} 0` }], { readOnly: d.info.flags.readOnly });
    // The copy's writes carry no flush: they may still sit in the new disk's cache (a loop device's
    // in the page cache of its file), and a reset would lose them once the record sends a reboot
    // to the new disk. Writes after this one reach both legs, and a flush of V's both.
    await tx.step('flush new disk', () => flushDevice(to));
    // Before V is suspended (the record may live on V's own filesystem): from here on a reboot
    // brings V back on the new disk, which the mirror, in sync, keeps equal to the old one.
    await tx.step('record finishing', async () => writeMigrationRecord({ ...r, state: 'finishing' }), async () => writeMigrationRecord({ ...r, state: 'copying' }));
    const t0 = performance.now();
    await tx.suspend('V', name);
    await tx.step('check in sync', async () => {
      const m = mirrorState(d.migration!.mirror);
      if (m.inSync !== m.total || !m.healthy) throw refusal(`${d.migration!.mirror} is not in sync with ${name} quiet (${m.inSync}/${m.total}, health ${m.health})`, 'EAGAIN');
    });
    await tx.resume('V', name);
    const freezeMs = performance.now() - t0;
    tx.commit();
    await dropHelpers(tx, r);
    return freezeMs;
  }));
}

/** Writes the device's cache to stable storage (fsync of a block device sends it a flush). */
async function flushDevice(dev: string): Promise<void> {
  const fh = await fs.promises.open(pathOf(parseDevNum(dev)!), 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The mirror's second leg (the new disk), as major:minor, from its live table. */
function newLeg(mirror: string): string {
  const t = dm.tableSync(mirror)[0];
  const m = t && parseTarget(t.start, t.length, t.type, t.params);
  if (!m || !isTargetType(m, 'mirror') || m.legs.length !== 2) throw refusal(`${mirror} is not a two-leg mirror: ${t?.params ?? 'no table'}`, 'EINVAL');
  return devRefToString(m.legs[1].device);
}

/** Cancels the migration under way: V back on its own table (from O), M and O removed. */
async function abortMigration(name: string, o: LockOptions): Promise<MigrateResult> {
  const tx = new Tx('abort-migration');
  return withLocks('abort-migration', [name], o, () => tx.run(async () => {
    const { d, r } = await migrating(tx, name, 'no migration to abort');
    const own: RawTarget[] = dm.tableSync(r.base.name).map((t) => ({ start: t.start, length: t.length, type: t.type, params: t.params }));
    if (tableText(own) !== r.table) throw refusal(`${r.base.name} no longer holds ${name}'s own table: look at it`, 'EINVAL');
    await tx.load('V', name, own, { readOnly: d.info.flags.readOnly });
    const freezeMs = await tx.freeze([{ role: 'V', name }]);
    tx.commit();
    await dropHelpers(tx, r);
    return { name, state: 'aborted', freezeMs: [freezeMs] };
  }));
}

/** For recover: what a migration of `name` left, put right. A reboot is undone onto the old disk
 *  (the mirror's primary had every write), or, once the finish had begun, done onto the new one. */
export async function recoverMigration(r: MigrationRecord, o: { wait?: boolean } & LockOptions, did: string[]): Promise<'migrating' | 'plain'> {
  const name = r.device;
  for (const n of [name, r.move.name, r.base.name]) await settle(n, did);
  if (!infoOrNone(name)) {
    if (r.state === 'finishing') await rebuildOnNew(r, did);
    else await rebuildPlain(r, did);
  } else if ((await inspect(name)).state === 'migrating') {
    if (!o.wait) return 'migrating';
    await waitInSync(name, {});
    await finishMigration(name, o);
    did.push(`finished the migration to ${r.to.dev}`);
    return 'plain';
  }
  // V is on its own table (undone) or on the new disk (finished): what is left of ours goes. But
  // a V on anything else once the finish had begun was made again by someone else (a boot script,
  // from its old table): writes after the switch are on the new disk only, so nothing is dropped.
  if (r.state === 'finishing' && !mapsOnly(name, r.to)) {
    throw refusal(`${name} exists, not as one linear target over ${r.to.path}, but its migration there was finishing: writes made after its switch are on ${r.to.path} only. Compare the two, make ${name} as it should be, then delete ${migrationRecordPath(name)}`, 'EEXIST');
  }
  for (const n of [r.move.name, r.base.name]) {
    const i = infoOrNone(n);
    if (i && migrationOwner(i.uuid) === name) {
      await removeDevice(n);
      did.push(`removed ${n}`);
    }
  }
  removeMigrationRecord(name);
  return 'plain';
}

/** Whether `name` is one linear target over the whole of the destination `to`, as finished. */
function mapsOnly(name: string, to: MigrationRecord['to']): boolean {
  const t = dm.tableSync(name);
  const at = to.identity ? locate(to.identity) : { num: parseDevNum(to.dev)! };
  return t.length === 1 && t[0].type === 'linear' && 'num' in at && t[0].params === `${devKey(at.num)} 0`;
}

async function rebuildOnNew(r: MigrationRecord, did: string[]): Promise<void> {
  if (!r.to.identity) throw refusal(`${r.device} was being finished onto ${r.to.path}, which has no stable identity to find it by after a reboot: make ${r.device} again as one linear target over it`, 'ENOENT');
  const to = await new Finder(did).find(r.to.identity);
  const length = tableLength(toRawTargets(parseTable(r.table, { generic: true })));
  await dm.create(r.device, { ...(r.uuid ? { uuid: r.uuid } : {}) });
  await dm.loadRawTable(r.device, [{ start: 0n, length, type: 'linear', params: `${devKey(to)} 0` }], { readOnly: r.readOnly });
  await dm.resume(r.device);
  // r.to.path named the device before the reboot; it may have another number now.
  did.push(`made ${r.device} again on ${pathOf(to)}, where its migration was finishing`);
}
