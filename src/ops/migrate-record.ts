// The durable record of a migration, written before its first change: V's own table (with stable
// identities of its disks, so that a reboot can be undone onto the old disk), the destination and
// the two hidden devices. Kept beside the other records, in their `migrations` directory.
import path from 'node:path';
import type { RawTarget } from '../native';
import { identify, readJson, recordFile, recordFiles, removeDurably, stateDir, writeDurably, type DeviceIdentity } from '../records';
import type { DevNum } from '../table';
import { devKey, tableText } from './kernel';
import { identities, type RecordBase } from './record';

export interface MigrationRecord extends RecordBase {
  kind: 'migration';
  /** The destination as given, its number then, and its stable identity (if it has one). */
  to: { path: string; dev: string; identity?: DeviceIdentity };
  /** The hidden device holding V's own table (RecordBase's `base`), and the mirror over it. */
  move: { name: string; uuid: string };
  regionSectors: number;
  /** finishing: the mirror was in sync and V about to move onto the new disk alone. */
  state: 'copying' | 'finishing';
  pid: number;
  started: string;
}

const dir = (): string => path.join(stateDir(), 'migrations');

export function newMigrationRecord(o: {
  name: string; uuid?: string; readOnly: boolean; table: RawTarget[]; to: string; toNum: DevNum;
  old: { name: string; uuid: string }; move: { name: string; uuid: string }; regionSectors: number;
}): MigrationRecord {
  let identity: DeviceIdentity | undefined;
  try {
    identity = identify(o.toNum);
  } catch {
    identity = undefined; // recover then refers to it by path only
  }
  return {
    version: 1, kind: 'migration', device: o.name, ...(o.uuid ? { uuid: o.uuid } : {}), readOnly: o.readOnly,
    table: tableText(o.table), devices: identities(o.table), secret: false, base: o.old, move: o.move,
    to: { path: o.to, dev: devKey(o.toNum), ...(identity ? { identity } : {}) }, regionSectors: o.regionSectors, state: 'copying',
    pid: process.pid, started: new Date().toISOString(), updated: new Date().toISOString(),
  };
}

export function writeMigrationRecord(r: MigrationRecord): void {
  writeDurably(recordFile(r.device, dir()), { ...r, updated: new Date().toISOString() });
}

/** Where the migration record of `name` is. */
export const migrationRecordPath = (name: string): string => recordFile(name, dir());

export function readMigrationRecord(name: string): MigrationRecord | undefined {
  const r = readJson(recordFile(name, dir())) as MigrationRecord | undefined;
  return r?.kind === 'migration' && r.device === name ? r : undefined;
}

export function removeMigrationRecord(name: string): void {
  removeDurably(recordFile(name, dir()));
}

/** The devices with a migration record. */
export function migrationRecordNames(): string[] {
  return recordFiles(dir()).map((f) => (readJson(f) as { device?: unknown } | undefined)?.device).filter((d): d is string => typeof d === 'string');
}
