// The durable record of an origin with point-in-time snapshots (and of a rollback merging one of
// them back): V's own table, its base, and each snapshot with its COW store, enough to rebuild the
// arrangement after a reboot. Written before a snapshot operation's first change, with the
// operation and the snapshot it concerns marked; updated at its commit point; removed when V is
// plain again. recover-origin.ts reads it.
import type { RawTarget } from '../native';
import { removeDurably, recordFile } from '../records';
import { cowRecord, identities, readRecord, writeRecord, type CowRecord, type RecordBase } from './record';
import { secureTable, tableText } from './kernel';

export interface SnapRecord {
  name: string;
  uuid: string;
  cow: CowRecord;
}

export interface OriginRecord extends RecordBase {
  kind: 'origin';
  /** origin: V is snapshot-origin over its base; merging: a rollback merges `merging` into it. */
  state: 'origin' | 'merging';
  /** The snapshots, including one a create in flight is adding (operation.snapshot). */
  snapshots: SnapRecord[];
  /** The snapshot a rollback is merging (no longer a device of its own). */
  merging?: SnapRecord;
}

export function readOriginRecord(name: string): OriginRecord | undefined {
  const r = readRecord(name);
  return r?.kind === 'origin' ? r : undefined;
}

export function removeOriginRecord(name: string): void {
  removeDurably(recordFile(name));
}

/** A snapshot and how its COW store (a file devmapper makes, or a block device) is found again. */
export function snapRecord(name: string, uuid: string, cow: { file: string } | { device: string }, chunkSectors: number, persistent: 'P' | 'PO'): SnapRecord {
  return { name, uuid, cow: cowRecord(cow, chunkSectors, persistent) };
}

/**
 * Before createSnapshot's first change: the origin's record with the new snapshot added and the
 * operation marked. `ownTable` is V's own table (the base's, once V is an origin); returns the
 * record as it was, for the undo.
 */
export function recordSnapshotStart(o: {
  origin: string;
  uuid?: string;
  readOnly: boolean;
  ownTable: RawTarget[];
  base: { name: string; uuid: string };
  snap: SnapRecord;
}): OriginRecord | undefined {
  const before = readOriginRecord(o.origin);
  const now = new Date().toISOString();
  const r: OriginRecord = before ?? {
    version: 1,
    kind: 'origin',
    device: o.origin,
    ...(o.uuid ? { uuid: o.uuid } : {}),
    readOnly: o.readOnly,
    state: 'origin',
    table: tableText(o.ownTable),
    devices: identities(o.ownTable),
    secret: secureTable(o.ownTable),
    base: o.base,
    snapshots: [],
    updated: '',
  };
  writeRecord({ ...r, snapshots: [...r.snapshots.filter((s) => s.name !== o.snap.name), o.snap], operation: { name: 'snapshot', pid: process.pid, since: now, snapshot: o.snap.name } });
  return before;
}

/** Puts the record back as it was before an operation that rolled back. */
export function restoreOriginRecord(name: string, before: OriginRecord | undefined): void {
  if (before) writeRecord(before);
  else removeOriginRecord(name);
}

/** The origin's record without `snapshot` (a remove or a rollback committed); `merging`: the
 *  rollback's snapshot now merging. Removed once nothing is left to describe. */
export function dropSnapshotFromRecord(origin: string, snapshot: string, merging?: boolean): void {
  const r = readOriginRecord(origin);
  if (!r) return;
  const { operation: _o, ...rest } = r;
  const gone = r.snapshots.find((s) => s.name === snapshot);
  const snapshots = r.snapshots.filter((s) => s.name !== snapshot);
  if (merging && gone) return writeRecord({ ...rest, state: 'merging', snapshots, merging: gone });
  if (!snapshots.length && !r.merging) return removeOriginRecord(origin);
  writeRecord({ ...rest, snapshots });
}

/** After a rollback's merge finished: the origin's record without the merged snapshot. */
export function mergeEndedInRecord(origin: string): void {
  const r = readOriginRecord(origin);
  if (!r) return;
  const { operation: _o, merging: _m, ...rest } = r;
  if (!r.snapshots.length) return removeOriginRecord(origin);
  writeRecord({ ...rest, state: 'origin' });
}
