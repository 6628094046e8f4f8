// The operations as the main entry's `ops` namespace: src/ops/index.ts minus internal helpers,
// naming constants and test hooks (those are in devmapper/testing).
export { OperationError } from '../ops/errors';
export type { OperationState, DeviceState } from '../ops/errors';
export { DeviceLockedError } from '../ops/lock';
export type { LockOptions, LockRecord } from '../ops/lock';
export { replace, transaction } from '../ops/replace';
export type { TableInput, ReplaceOptions, ReplaceResult, Change, SuspendChoice } from '../ops/replace';
export { divert } from '../ops/divert';
export type { DivertOptions, DivertInfo } from '../ops/divert';
export { merge, discard, waitMerge, finishMerge } from '../ops/merge';
export type { MergeOptions, MergeProgress, MergeResult, DiscardOptions } from '../ops/merge';
export { describe } from '../ops/describe';
export type { Description, DeviceRole, CowState, SnapshotDescription } from '../ops/describe';
export type { CowSpec, CowInfo } from '../ops/cow';
export { StoreError } from '../ops/store-check';
export type { StoreProblem } from '../ops/store-check';
export type { SnapshotStoreOptions, Persistence } from '../ops/options';
export { createSnapshot, removeSnapshot, rollback } from '../ops/snapshots';
export type { SnapshotOptions, SnapshotInfo, RollbackOptions } from '../ops/snapshots';
export { watchCow, growCow, CowWatcher } from '../ops/monitor';
export type { CowEvent, GrowPolicy, WatchCowOptions, GrowResult } from '../ops/monitor';
export { monitor, Monitor } from '../ops/keep-watch';
export type { MonitorOptions, MonitorEvent } from '../ops/keep-watch';
export { recover, recoverDevice } from '../ops/recover';
export { backup, recoverBackups, CopyMismatchError } from '../backup';
export type { BackupOptions, BackupResult, CopyProgress } from '../backup';
export type { RecoverOptions, RecoverReport } from '../ops/recover';
