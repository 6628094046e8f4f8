// divert(): a live device V keeps its name and contents, but from the switch on its writes go to a
// COW store, over a hidden base device that holds V's original table (a frozen, consistent image).
import * as dm from '../dm';
import { flushBuffers } from '../loop';
import { checkCowSpec, prepareCow, type CowInfo, type CowSpec } from './cow';
import { inspect, refuseMidChange, refuseNotPlain } from './describe';
import { devKey, infoOrNone, pathOf, secureTable, tableLength } from './kernel';
import { baseName, baseOwner, baseUuid, checkOpsName } from './naming';
import { checkObject, checkStore, type SnapshotStoreOptions } from './options';
import type { SuspendChoice } from './replace';
import { removeDevice, Tx } from './transaction';
import { headSum, markOperation, newDivertRecord, refuseInterrupted, removeDivertRecord, writeDivertRecord } from './record';
import { checkLockOptions, withLocks, type LockOptions } from './lock';

/** Options of divert(): the COW store, chunk size, persistence, suspend and lock choices. */
export interface DivertOptions extends SnapshotStoreOptions, SuspendChoice, LockOptions {
  cow: CowSpec;
}

/** What divert() set up. */
export interface DivertInfo {
  name: string;
  /** The frozen image: a read-only device at /dev/mapper/<V>-dmbase. */
  base: { name: string; path: string; dev: string };
  cow: CowInfo;
  chunkSectors: number;
  persistent: 'P' | 'PO';
  /** How long V's I/O stood still at the switch. */
  freezeMs: number;
}

/** Removes a base left behind by an interrupted operation (ours by uuid, unused). */
export async function removeLeftoverBase(tx: Tx, name: string): Promise<void> {
  const left = infoOrNone(baseName(name));
  if (left && baseOwner(left.uuid) === name && left.openCount === 0) await tx.step('remove leftover base', () => removeDevice(left.name));
}

/**
 * Diverts the live device `name` (any table): a hidden base device `<name>-dmbase` takes over the
 * current table (read-only), and `name` becomes `snapshot <base> <cow>`. From the switch on the
 * writes to `name` go to the COW store; the base is a frozen, consistent image of the moment of the
 * switch (the filesystem was frozen for it unless `skipLockfs`), readable at `info.base.path`.
 * Then merge() folds the writes back into the base and returns `name` to its table, or discard()
 * drops them. The order: COW ready, base created, loaded and live, snapshot table loaded, and only
 * then `name` suspended and resumed. Any failure undoes every step (OperationError).
 *
 * Pages read from the base before the switch (udev probes every new device) may predate writes V
 * made before it; the base's page cache is dropped after the switch, so reads show the frozen image.
 */
export async function divert(name: string, o: DivertOptions): Promise<DivertInfo> {
  checkOpsName(name);
  checkObject(o);
  const cowPlan = checkCowSpec(o.cow);
  const { chunk, store } = checkStore(o);
  checkLockOptions(o);
  const tx = new Tx('divert');
  return withLocks('divert', [name], o, () => tx.run(async () => {
    const d = await tx.step('inspect', async () => {
      const d = await inspect(name);
      refuseNotPlain(d, name, 'diverted');
      refuseMidChange(d, name);
      refuseInterrupted(name, d.state);
      return d;
    });
    if (d.leftoverBase) await removeLeftoverBase(tx, name);
    const base = baseName(name);
    // Durable before the first change: a crash from here on is finished or undone from it.
    const record = newDivertRecord({
      name, uuid: d.info.uuid, readOnly: d.info.flags.readOnly, table: d.table, base: { name: base, uuid: baseUuid(name, tx.nonce) },
      cow: cowPlan.kind === 'file' ? { file: cowPlan.file } : { device: cowPlan.path }, chunkSectors: chunk, persistent: store,
    });
    await tx.step('write record', async () => writeDivertRecord(record), async () => removeDivertRecord(name));
    const cow = await prepareCow(tx, cowPlan, { serves: name, chunkSectors: chunk });
    const secure = secureTable(d.table);
    await tx.create('base', base, baseUuid(name, tx.nonce), { readOnly: true });
    await tx.load('base', base, d.table, { readOnly: true, secure });
    await tx.resume('base', base);
    const b = dm.infoSync(base);
    const snap = { start: 0n, length: tableLength(d.table), type: 'snapshot', params: `${devKey(b)} ${cow.dev} ${store} ${chunk}` };
    await tx.load('V', name, [snap], { readOnly: d.info.flags.readOnly });
    const freezeMs = await tx.freeze([{ role: 'V', name }], { noflush: o.noflush, skipLockfs: o.skipLockfs });
    tx.commit();
    await tx.cleanup('flush base page cache', () => flushBuffers(pathOf(b)));
    await tx.cleanup('commit record', async () => markOperation(name, undefined, { baseHead: headSum(b) }));
    // The table holds the loop device now; the descriptor that kept it bound goes, whatever happens.
    tx.afterCommit(() => cow.release());
    await tx.cleanup('release cow', () => cow.release());
    const { num: _n, release: _r, ...cowOut } = cow;
    return { name, base: { name: base, path: pathOf(b), dev: devKey(b) }, cow: cowOut, chunkSectors: chunk, persistent: store, freezeMs };
  }));
}
