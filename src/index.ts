/**
 * devmapper's main entry (`devmapper`): the typed table and status model, typed loading and
 * reading of tables on the kernel, units, the live operations (`ops`), loop devices (`loop`),
 * partition tables (`parts`), LVM2 volume groups (`lvm`), and the errors they throw. The raw ioctl
 * layer is `devmapper/dm`; test hooks are `devmapper/testing`.
 * @packageDocumentation
 * @module devmapper
 */
/** Loop devices through loop-control: attach (a sparse file on request), detach, list, settings. */
export * as loop from './loop';
/**
 * Atomic live operations: replace and transaction, divert / merge / discard, point-in-time
 * snapshots, COW monitoring and growth, and recover after a crash or a reboot. A failure after
 * validation rolls back and throws an OperationError.
 */
export * as ops from './api/ops';
/** Partition tables (MBR with logicals, GPT) read as kpartx reads them, and their devices. */
export * as parts from './api/parts';
/** LVM2 volume groups without lvm2: PV labels, metadata, the VG model, and activation. */
export * as lvm from './api/lvm';

// The table and status model (pure: nothing here talks to the kernel).
export { TableError, type TableRule } from './table/errors';
export { CryptKey } from './table/secret';
export { hideKeys, hideTableKeys } from './table/hide-keys';
export {
  type DevNum, type DevRef, type DevStat, type DevPathOptions,
  parseDevNum, formatDevNum, decodeDev, encodeDev, resolveDevRef, devRefToString, devRefKey, devPath,
} from './table/devref';
export type { TargetBase, GenericTarget, DevFormatter } from './table/types';
export type { OptArg } from './table/args';
export type { RawTarget, RawTargetVersion } from './native';
export type { Target, TypedTarget, Table, TargetOf, StatusMap, RawStatus } from './table/model';
export {
  type ParseOptions, type FormatOptions, type TargetStatus,
  parseTable, formatTable, parseTarget, formatTarget, toRawTargets, fromRawTargets,
  needsSecureData, parseStatus, parseStatusTargets, isGeneric, isTargetType,
} from './table/table';
export { typedTargetTypes } from './table/registry';
export { type DeviceProvider, type ValidateOptions, tableProblems, validateTable } from './table/validate';
export type { LinearTarget, StripedTarget, Stripe, ZeroTarget, ErrorTarget, StripedStatus, EmptyStatus, HealthChar } from './table/targets/basic';
export {
  type SnapshotOriginTarget, type SnapshotTarget, type SnapshotMergeTarget, type SnapshotStore, type SnapshotStatus,
  parseSnapshotStatus, percentFull, mergeProgress, mergeComplete, isInvalid,
} from './table/targets/snapshot';
export type { CryptTarget } from './table/targets/crypt';
export type { FlakeyTarget, DelayTarget, DelayPath, DelayStatus, LogWritesTarget, LogWritesStatus } from './table/targets/debugging';
export { type ThinPoolTarget, type ThinTarget, type ThinPoolStatus, type ThinStatus, parseThinPoolStatus, parseThinStatus } from './table/targets/thin';
export type { MirrorTarget, MirrorLeg, MirrorStatus } from './table/targets/mirror';
export { type CacheTarget, type CacheStatus, parseCacheStatus } from './table/targets/cache';
export type { VerityTarget, VerityStatus } from './table/targets/verity';
export type { IntegrityTarget, IntegrityOption, IntegrityStatus } from './table/targets/integrity';

// Typed tables to and from the kernel: the one loader and the one reader.
export {
  type KernelDeviceProvider, type KernelDeviceProviderOptions, type TableLoadOptions, type ReadTableOptions, type ReadStatusOptions,
  loadTable, readTable, readStatus, statusAs, kernelDeviceProvider, kernelVersions, kernelTableProblems, devPathFormatter,
} from './table/kernel';
export type { DeviceRef, DeviceInfo, DeviceFlags } from './dm';

export {
  SECTOR_SIZE, parseSize, parseSectors, bytesToSectors, sectorsToBytes, formatSize,
  type ParseSizeOptions, type SectorRounding,
} from './units';

// Errors users catch.
export { DmError } from './errors';
export { OperationError } from './ops/errors';
export { DeviceLockedError } from './ops/lock';
export { StoreError } from './ops/store-check';
export { PartitionTableError, PartsError } from './parts/errors';
export { LvmError } from './lvm/errors';
