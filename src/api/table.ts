/**
 * The public part of the table and status model, pure: nothing here talks to the kernel. The main
 * entry re-exports it; src/table/index.ts adds the internals the other layers use.
 * @module
 */
export { TableError, type TableRule } from '../table/errors';
export { CryptKey } from '../table/secret';
export { hideKeys, hideTableKeys } from '../table/hide-keys';
export {
  type DevNum, type DevRef, type DevStat, type DevPathOptions,
  parseDevNum, formatDevNum, decodeDev, encodeDev, resolveDevRef, devRefToString, devRefKey, devPath,
} from '../table/devref';
export type { TargetBase, GenericTarget, DevFormatter } from '../table/types';
export type { OptArg } from '../table/args';
export type { RawTarget, RawTargetVersion } from '../native';
export type { Target, TypedTarget, Table, TargetOf, StatusMap, RawStatus } from '../table/model';
export {
  type ParseOptions, type FormatOptions, type TargetStatus,
  parseTable, formatTable, parseTarget, formatTarget, toRawTargets, fromRawTargets,
  needsSecureData, parseStatus, parseStatusTargets, isGeneric, isTargetType,
} from '../table/table';
export { typedTargetTypes } from '../table/registry';
export { type DeviceProvider, type ValidateOptions, tableProblems, validateTable } from '../table/validate';
export type { LinearTarget, StripedTarget, Stripe, ZeroTarget, ErrorTarget, StripedStatus, EmptyStatus, HealthChar } from '../table/targets/basic';
export {
  type SnapshotOriginTarget, type SnapshotTarget, type SnapshotMergeTarget, type SnapshotStore, type SnapshotStatus,
  parseSnapshotStatus, percentFull, mergeProgress, mergeComplete, isInvalid,
} from '../table/targets/snapshot';
export type { CryptTarget } from '../table/targets/crypt';
export type { FlakeyTarget, DelayTarget, DelayPath, DelayStatus, LogWritesTarget, LogWritesStatus } from '../table/targets/debugging';
export { type ThinPoolTarget, type ThinTarget, type ThinPoolStatus, type ThinStatus, parseThinPoolStatus, parseThinStatus } from '../table/targets/thin';
export type { MirrorTarget, MirrorLeg, MirrorStatus } from '../table/targets/mirror';
export { type CacheTarget, type CacheStatus, parseCacheStatus } from '../table/targets/cache';
export type { VerityTarget, VerityStatus } from '../table/targets/verity';
export type { IntegrityTarget, IntegrityOption, IntegrityStatus } from '../table/targets/integrity';

