// The durable record of a diverted (or merging) device: what it takes to rebuild the arrangement
// after a reboot, and to finish or undo an operation a killed process left half-done. Written
// before the switch that needs it (with the operation marked in flight), updated at the commit
// point, removed when the arrangement ends. dmctl recover (src/recovery) reads it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { RawTarget } from '../native';
import { describeIdentity, identify, readJson, recordFile, removeDurably, writeDurably, type DeviceIdentity } from '../records';
import { resolveDevRef, type DevNum } from '../table';
import { refusal } from './errors';
import type { OriginRecord } from './origin-record';
import type { Tx } from './transaction';
import { devKey, pathOf, secureTable, tableRefs, tableText } from './kernel';

export interface CowRecord {
  /** A file devmapper attaches on a loop device. */
  file?: string;
  /** A block device, by stable identity. */
  device?: DeviceIdentity;
  /** devmapper created the file and deletes it when the arrangement ends. */
  owned: boolean;
  chunkSectors: number;
  persistent: 'P' | 'PO';
}

export type RecordedOperation = 'divert' | 'merge' | 'discard' | 'finish-merge' | 'snapshot' | 'remove-snapshot' | 'rollback';

/** The fields both kinds of record share. */
export interface RecordBase {
  version: 1;
  device: string;
  uuid?: string;
  readOnly: boolean;
  /** The device's own table (the base's), keys zeroed; device numbers as they were when recorded. */
  table: string;
  /** Each device number in `table`: its stable identity, or why it has none. */
  devices: Record<string, DeviceIdentity | { unstable: string }>;
  /** The table held a key, which is not stored: after a reboot the device must be opened again
   *  (e.g. by cryptsetup) before recover can rebuild it. */
  secret: boolean;
  base: { name: string; uuid: string };
  /** An operation in flight: set before its first change, cleared at its commit point. */
  operation?: { name: RecordedOperation; pid: number; since: string; snapshot?: string };
  updated: string;
}

export interface DivertRecord extends RecordBase {
  kind: 'divert';
  state: 'diverted' | 'merging';
  cow: CowRecord;
  /** sha256 of the base's first MiB once frozen: a base changed since (mounted read-write after a
   *  reboot) is refused. Absent until the switch has been made. */
  baseHead?: string;
}

/** A device's record of either kind (origin records: origin-record.ts). */
export function readRecord(name: string): DivertRecord | OriginRecord | undefined {
  const r = readJson(recordFile(name)) as DivertRecord | OriginRecord | undefined;
  if (r === undefined) return undefined;
  if (r?.version !== 1 || (r.kind !== 'divert' && r.kind !== 'origin') || r.device !== name || typeof r.table !== 'string') {
    throw refusal(`the record ${recordFile(name)} is not a devmapper record of ${name}: look at it, and move it away if it is not needed`, 'EINVAL');
  }
  return r;
}

export function readDivertRecord(name: string): DivertRecord | undefined {
  const r = readRecord(name);
  return r?.kind === 'divert' ? r : undefined;
}

export function writeRecord(r: DivertRecord | OriginRecord): void {
  writeDurably(recordFile(r.device), { ...r, updated: new Date().toISOString() });
}

export const writeDivertRecord: (r: DivertRecord) => void = writeRecord;

export function removeDivertRecord(name: string): void {
  removeDurably(recordFile(name));
}

/** Stable identities of every device a table names. */
export function identities(targets: readonly RawTarget[]): DivertRecord['devices'] {
  const out: DivertRecord['devices'] = {};
  for (const num of tableRefs(targets)) {
    try {
      out[devKey(num)] = identify(num);
    } catch (err) {
      out[devKey(num)] = { unstable: (err as Error).message };
    }
  }
  return out;
}

/** How a COW store is found again: a file devmapper made, or a block device by stable identity. */
export function cowRecord(c: { file: string } | { device: string }, chunkSectors: number, persistent: 'P' | 'PO'): CowRecord {
  if ('file' in c) return { file: c.file, owned: true, chunkSectors, persistent };
  let device: DeviceIdentity | undefined;
  try {
    device = identify(resolveDevRef(c.device));
  } catch {
    device = undefined; // recover then says the COW cannot be found again
  }
  return { ...(device ? { device } : {}), owned: false, chunkSectors, persistent };
}

/** The record of a divert about to start (written before its first change, `operation` set). */
export function newDivertRecord(o: {
  name: string;
  uuid?: string;
  readOnly: boolean;
  table: RawTarget[];
  base: { name: string; uuid: string };
  cow: { file: string } | { device: string };
  chunkSectors: number;
  persistent: 'P' | 'PO';
}): DivertRecord {
  return {
    version: 1,
    kind: 'divert',
    device: o.name,
    ...(o.uuid ? { uuid: o.uuid } : {}),
    readOnly: o.readOnly,
    state: 'diverted',
    table: tableText(o.table),
    devices: identities(o.table),
    secret: secureTable(o.table),
    base: o.base,
    cow: cowRecord(o.cow, o.chunkSectors, o.persistent),
    operation: { name: 'divert', pid: process.pid, since: new Date().toISOString() },
    updated: '',
  };
}

const SNAP_MAGIC = 0x70416e53;

/** Whether a snapshot table was ever loaded on the COW store: a persistent store's header gets its
 *  magic at the first load (a fresh store starts zeroed). */
export function cowWasLoaded(c: CowRecord, num?: DevNum): boolean {
  const at = c.file ?? (num ? pathOf(num) : undefined);
  if (!at || !fs.existsSync(at)) return false;
  const fd = fs.openSync(at, 'r');
  try {
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === SNAP_MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

/** sha256 of the first MiB of a block device. Callers read a device whose page cache holds
 *  nothing stale: a new one, or one whose cache was just dropped. */
export function headSum(num: DevNum): string {
  const fd = fs.openSync(pathOf(num), fs.constants.O_RDONLY);
  try {
    const buf = Buffer.alloc(1 << 20);
    let n = 0;
    for (let r = -1; n < buf.length && r !== 0; n += r) r = fs.readSync(fd, buf, n, buf.length - n, n);
    return crypto.createHash('sha256').update(buf.subarray(0, n)).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** Marks an operation in flight on a recorded device (or clears it); the record must exist. */
export function markOperation(name: string, op: RecordedOperation | undefined, change: Partial<DivertRecord> | Partial<OriginRecord> = {}, snapshot?: string): void {
  const r = readRecord(name);
  if (!r) return;
  const { operation: _o, ...rest } = r;
  writeRecord({ ...rest, ...change, ...(op ? { operation: { name: op, pid: process.pid, since: new Date().toISOString(), ...(snapshot ? { snapshot } : {}) } } : {}) } as DivertRecord | OriginRecord);
}

/** The step that marks `op` in flight on a recorded device (undone by clearing it). */
export function recordStep(tx: Tx, name: string, op: RecordedOperation, snapshot?: string): Promise<void> {
  return tx.step('write record', async () => markOperation(name, op, {}, snapshot), async () => markOperation(name, undefined));
}

/**
 * An operation looks before it acts: a record with an operation still in flight (its process is
 * gone: the lock is ours now) or a record that the kernel's state contradicts means an earlier
 * operation was interrupted; that is for `dmctl recover`, not for a new operation, to settle.
 */
export function refuseInterrupted(name: string, kernelState: string): void {
  const r = readRecord(name);
  if (!r) return;
  const why = r.operation
    ? `a ${r.operation.name} of process ${r.operation.pid} (since ${r.operation.since}) was interrupted`
    : kernelState !== r.state
      ? `its record says ${r.state}, the kernel says ${kernelState}`
      : undefined;
  if (why) throw refusal(`${name}: ${why}; run 'dmctl recover' (ops.recover()) first`, 'EBUSY');
}

/** One line naming where a recorded device is expected, for messages. */
export function whereRecorded(id: DeviceIdentity | { unstable: string }): string {
  return 'unstable' in id ? `a device with no stable name (${id.unstable})` : describeIdentity(id);
}
