// Atomic live operations on device-mapper devices. Everything here keeps its state in the kernel
// (hidden devices with recognisable names and uuids), loads before it suspends, never leaves a
// device suspended, and on failure rolls back and throws an OperationError saying which step
// failed and what state every device is in.
//
// This barrel is internal (the CLI and tests import it); the package's `ops` namespace is the
// subset in src/api/ops.ts, without the naming helpers, lock paths and test hooks.
//
// Public API (every shape is a TSDoc'd type exported below):
//
//   replace(device, table: TableInput, { noflush?, skipLockfs?, readOnly? })
//       -> ReplaceResult { freezeMs, order: string[], previous: { [device]: tableText } }
//   transaction([{ device, table, readOnly? }, ...], { noflush?, skipLockfs? })
//       -> ReplaceResult; loads all, suspends top of the stack first (order from TABLE_DEPS), resumes in reverse
//   divert(name, { cow: string /* block device */ | { file, size: bigint|number|string },
//                  chunkSectors? = 8, persistent?: 'P'|'PO' = 'P', noflush?, skipLockfs? })
//       -> DivertInfo { name, base: { name, path, dev }, cow: CowInfo, chunkSectors, persistent, freezeMs }
//   merge(name, { onProgress?(MergeProgress), signal?: AbortSignal, wait?: boolean = true, pollMs? })
//       -> MergeResult { name, state: 'merging' | 'done' }   (starts, or follows a merge started elsewhere)
//   waitMerge(name, opts), finishMerge(name)                  (the two halves of merge's waiting part)
//   discard(name, { force? })                                  (refused while mounted/open unless force)
//   createSnapshot(origin, snapName, { cow, chunkSectors?, persistent? }) -> SnapshotInfo { name, path, origin, base, cow, ... }
//   removeSnapshot(snapName)                                   (the last one returns the origin to its table)
//   rollback(snapName, { onProgress?, signal?, wait?, pollMs?, force? }) -> MergeResult { name: origin, state }
//   describe(name) -> Description { name, state: 'plain'|'diverted'|'merging'|'origin'|'snapshot', suspended,
//                                   base?, cow?: CowState (status, percentFull), chunkSectors?, persistent?,
//                                   merge?: { complete, failed }, snapshots?, origin?, leftoverBase? }
//   watchCow(name, { thresholds? = [50,80,90,95], grow?: true | { at?, by?, max? }, signal?, intervalMs? })
//       -> CowWatcher: EventEmitter of CowEvent ('fill' | 'warning' | 'grown' | 'invalid' | 'overflow' |
//          'merge-failed' | 'unknown' | 'error' | 'end', also 'event' for each), async-iterable, stop(), done
//   growCow(name, newSize) -> GrowResult { bytes, totalSectors }
//   monitor({ names?, thresholds?, grow?, rescanMs?, signal? }) -> Monitor: a CowWatcher for every
//       diverted device, snapshot and merging device (found again each rescan), events as MonitorEvent
//   recover({ wait? }) -> RecoverReport[] { device, found, did[], state, error? }: every recorded
//       arrangement (diverted, merging, origin with snapshots) rebuilt after a reboot, or settled,
//       finished or undone after a killed operation (records: <DEVMAPPER_STATE_DIR>/<device>.json)
//
// Errors: validation -> TypeError / RangeError before anything changes. Anything later ->
// OperationError { operation, step, code?, cause, state: { asBefore, devices: DeviceState[], notes },
// completed: string[], committed }. A COW device or file refused before anything was written
// (in the stack of the device it would serve, mounted, swap, claimed, too small, not a block device)
// is an OperationError at step 'check cow' whose cause is a StoreError { code: EBUSY | EINVAL | ENOENT }.
// Before its commit point an operation is rolled back (every inactive table cleared, every table
// restored, every device resumed); after it (cleanup steps such as removing the base) the
// operation stands and `committed` is true.
//
// Locks: every operation that changes a device holds an flock per device it touches
// (<DEVMAPPER_LOCK_DIR or /run/lock/devmapper>/<device>.lock, several in sorted order) while it
// inspects and changes it; `lockTimeoutMs` (default 10 s, 0: try once) bounds the wait, then
// DeviceLockedError { code: 'EBUSY', device, holder: { pid, operation, devices, since } } is thrown
// and nothing has changed. merge() holds V's lock to start and to finish, not across the wait; a
// merge another process finished meanwhile is reported in MergeResult.mergedBy. Every device an
// operation creates carries the operation's nonce in its uuid, and only such a device is removed
// by its rollback.
//
// Tests: setFaultHook(fn) is called before every step with '<operation>:<step>' (e.g.
// 'divert:suspend V'); kernelRefusal() makes an error like the kernel's.
//
export { OperationError, refusal } from './errors';
export { DeviceLockedError, DEFAULT_LOCK_TIMEOUT_MS, lockDir, lockFile, withLocks, checkLockOptions } from './lock';
export type { LockOptions, LockRecord } from './lock';
export type { OperationState, DeviceState } from './errors';
export { setFaultHook, kernelRefusal } from './faults';
export type { FaultHook } from './faults';
export { replace, transaction, toTargets } from './replace';
export type { TableInput, ReplaceOptions, ReplaceResult, Change, SuspendChoice } from './replace';
export { stackOrder, heldSuspended } from './stack';
export { divert } from './divert';
export type { DivertOptions, DivertInfo } from './divert';
export { merge, discard, waitMerge, finishMerge } from './merge';
export type { MergeOptions, MergeProgress, MergeResult, DiscardOptions } from './merge';
export { describe } from './describe';
export type { Description, DeviceRole, CowState, SnapshotDescription } from './describe';
export type { CowSpec, CowInfo } from './cow';
export { StoreError, checkStoreDevice, checkStoreFile } from './store-check';
export type { StoreProblem, StoreCheck, CheckedStore } from './store-check';
export type { SnapshotStoreOptions, Persistence } from './options';
export { checkStore } from './options';
export { checkOpsName } from './naming';
export { BASE_SUFFIX, BASE_UUID_PREFIX, SNAP_UUID_PREFIX, baseName, baseUuid, snapUuid, baseOwner, uuidNonce } from './naming';
export { createSnapshot, removeSnapshot, rollback } from './snapshots';
export type { SnapshotOptions, SnapshotInfo, RollbackOptions } from './snapshots';
export { watchCow, growCow, CowWatcher } from './monitor';
export { monitor, Monitor } from './keep-watch';
export type { MonitorOptions, MonitorEvent } from './keep-watch';
export { recover, recoverDevice } from './recover';
export { migrate } from './migrate';
export type { MigrateOptions, MigrateProgress, MigrateResult } from './migrate';
export type { RecoverOptions, RecoverReport } from './recover';
export type { DivertRecord, CowRecord } from './record';
export type { OriginRecord, SnapRecord } from './origin-record';
export type { CowEvent, GrowPolicy, WatchCowOptions, GrowResult } from './monitor';
