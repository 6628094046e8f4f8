// replace(): a new live table, atomically. transaction(): several devices at once, in stack order.
import { checkTargets } from '../dm/validate';
import type { TargetInput } from '../dm/validate';
import type { RawTarget } from '../native';
import { needsSecureData, parseTable, toRawTargets, type Table } from '../table';
import { OperationError } from './errors';
import { infoOrNone, liveTable, tableText } from './kernel';
import { stackOrder } from './stack';
import { Tx } from './transaction';
import { checkLockOptions, withLocks, type LockOptions } from './lock';
import { checkName } from '../dm/validate';

/** A table as text (dmsetup syntax), typed targets, or raw `{ start, length, type, params }`. */
export type TableInput = string | Table | readonly TargetInput[];

/** How devices are suspended: flush or keep queued I/O, freeze the filesystem or not. */
export interface SuspendChoice {
  /** Keep queued I/O across the suspend instead of flushing it (DM_NOFLUSH_FLAG). */
  noflush?: boolean;
  /** Do not freeze a mounted filesystem (DM_SKIP_LOCKFS_FLAG). Default: freeze it. */
  skipLockfs?: boolean;
}

/** Options of replace(). */
export interface ReplaceOptions extends SuspendChoice, LockOptions {
  /** Load the new table read-only. */
  readOnly?: boolean;
}

/** What replace() and transaction() did. */
export interface ReplaceResult {
  /** Milliseconds from the first suspend to the last resume: how long I/O stood still. */
  freezeMs: number;
  /** The devices in the order they were suspended (top of the stack first). */
  order: string[];
  /** Each device's previous table, as text. */
  previous: Record<string, string>;
}

/** One device's new table in a transaction(). */
export interface Change {
  device: string;
  table: TableInput;
  readOnly?: boolean;
}

/** The raw targets of a table input, checked (TypeError/RangeError) before anything happens. */
export function toTargets(table: TableInput): { targets: RawTarget[]; secure: boolean } {
  if (typeof table === 'string') {
    const t = parseTable(table, { generic: true });
    return { targets: checkTargets(toRawTargets(t)), secure: needsSecureData(t) };
  }
  if (!Array.isArray(table)) throw new TypeError('a table is text, an array of targets, or typed targets');
  const t = table as Table;
  return { targets: checkTargets(toRawTargets(t)), secure: needsSecureData(t) };
}

function checkSuspendChoice(o: SuspendChoice & { readOnly?: boolean }): void {
  for (const k of ['noflush', 'skipLockfs', 'readOnly'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`${k} must be a boolean`);
  }
}

/** Loads a new table into `device` while it is live, then suspends and resumes it. */
export async function replace(device: string, table: TableInput, o: ReplaceOptions = {}): Promise<ReplaceResult> {
  return transaction([{ device, table, readOnly: o.readOnly }], o, 'replace');
}

/**
 * New tables for several devices as one step: every table is loaded first (nothing is suspended
 * until all loads succeeded), then the devices are suspended top of the stack first and resumed in
 * the reverse order. Any failure clears the inactive tables, restores and resumes what changed, and
 * throws an OperationError.
 */
export async function transaction(changes: readonly Change[], o: SuspendChoice & LockOptions = {}, op = 'transaction'): Promise<ReplaceResult> {
  if (!Array.isArray(changes) || changes.length === 0) throw new TypeError('changes must be a non-empty array of { device, table }');
  checkSuspendChoice(o);
  const plan = changes.map((c) => {
    if (typeof c !== 'object' || c === null) throw new TypeError('a change is { device, table }');
    checkSuspendChoice(c);
    return { device: checkName(c.device), readOnly: !!c.readOnly, ...toTargets(c.table) };
  });
  if (new Set(plan.map((p) => p.device)).size !== plan.length) throw new RangeError('each device may appear only once');
  checkLockOptions(o);

  const tx = new Tx(op);
  const previous: Record<string, string> = {};
  let freezeMs = 0;
  let order: string[] = [];
  await withLocks(op, plan.map((p) => p.device), o, () => tx.run(async () => {
    await tx.step('inspect', async () => {
      for (const p of plan) {
        const info = infoOrNone(p.device);
        if (!info) throw Object.assign(new Error(`no device named ${p.device}`), { code: 'ENXIO' });
        if (info.flags.suspended) throw Object.assign(new Error(`${p.device} is suspended`), { code: 'EBUSY' });
        if (info.flags.inactivePresent) throw Object.assign(new Error(`${p.device} already has an inactive table loaded`), { code: 'EBUSY' });
        previous[p.device] = tableText(liveTable(p.device));
      }
    });
    const role = (d: string): string => (plan.length === 1 && op === 'replace' ? 'V' : d);
    for (const p of plan) await tx.load(role(p.device), p.device, p.targets, { readOnly: p.readOnly, secure: p.secure });
    order = stackOrder(plan.map((p) => p.device));
    freezeMs = await tx.freeze(order.map((d) => ({ role: role(d), name: d })), { noflush: o.noflush, skipLockfs: o.skipLockfs });
    tx.commit();
  }));
  return { freezeMs, order, previous };
}

export { OperationError };
