// Atomic live operations on device-mapper devices. Everything here keeps its state in the kernel
// (hidden devices with recognisable names and uuids), loads before it suspends, never leaves a
// device suspended, and on failure rolls back and throws an OperationError saying which step
// failed and what state every device is in.
//
// Public API (shapes in the TSDoc of each type):
//
//   replace(device, table, { noflush?, skipLockfs?, readOnly? })        -> { freezeMs, order, previous }
//   transaction([{ device, table, readOnly? }, ...], { noflush?, skipLockfs? }) -> same; stack order from TABLE_DEPS
//   divert(name, { cow: '/dev/blockdev' | { file, size }, chunkSectors?, persistent?: 'P'|'PO' })
//                                                                        -> DivertInfo { base, cow, freezeMs, ... }
//   merge(name, { onProgress?, signal?, wait?, pollMs? })                -> { state: 'merging' | 'done' }
//   discard(name, { force? })
//   createSnapshot(origin, snapName, { cow, chunkSectors?, persistent? }) -> SnapshotInfo
//   removeSnapshot(snapName)
//   rollback(snapName, { onProgress?, signal?, wait?, force? })         -> { state: 'merging' | 'done' }
//   describe(name)  -> Description { state: 'plain'|'diverted'|'merging'|'origin'|'snapshot', base?, cow?, snapshots?, ... }
//   watchCow(name, { thresholds?, grow?, signal?, intervalMs? })         -> CowWatcher (EventEmitter + async iterator)
//   growCow(name, newSize)                                               -> { bytes, totalSectors }
//
// Hidden devices: the base of V is `<V>-dmbase` with uuid `DEVMAPPER-BASE-<V>`; a snapshot S made
// by createSnapshot has uuid `DEVMAPPER-SNAP-<S>`. COW files devmapper creates are attached with
// LO_FLAGS_AUTOCLEAR (the kernel detaches them when the snapshot ends) and deleted by devmapper.
export { OperationError } from './errors';
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
export type { SnapshotStoreOptions, Persistence } from './options';
export { BASE_SUFFIX, BASE_UUID_PREFIX, SNAP_UUID_PREFIX, baseName, baseUuid, snapUuid } from './naming';
export { createSnapshot, removeSnapshot, rollback } from './snapshots';
export type { SnapshotOptions, SnapshotInfo, RollbackOptions } from './snapshots';
export { watchCow, growCow, CowWatcher } from './monitor';
export type { CowEvent, GrowPolicy, WatchCowOptions, GrowResult } from './monitor';
