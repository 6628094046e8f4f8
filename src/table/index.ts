// Public API of the table and status model. Pure: nothing here talks to the kernel. Loading and
// reading typed tables on the kernel (loadTable, readTable, readStatus) is ./kernel.ts, exported
// from src/index.ts, so this model loads without the native addon.
export { TableError, type TableRule } from './errors';
export { CryptKey } from './secret';
export { hideKeys, hideTableKeys } from './hide-keys';
export {
  type DevNum, type DevRef, type DevStat, type DevPathOptions,
  parseDevNum, formatDevNum, decodeDev, encodeDev, resolveDevRef, devRefToString, devRefKey, devPath,
} from './devref';
export type { TargetBase, GenericTarget, TargetDescriptor, DevFormatter, DeviceUse, FeatureNeed, FieldProblem } from './types';
export type { Target, TypedTarget, Table, TargetOf, StatusMap, RawStatus } from './model';
export {
  type ParseOptions, type FormatOptions, type TargetStatus,
  parseTable, formatTable, parseTarget, formatTarget, toRawTargets, fromRawTargets,
  needsSecureData, parseStatus, parseStatusTargets, isGeneric, isTargetType,
} from './table';
export { descriptorFor, typedTargetTypes } from './registry';
export { type DeviceProvider, type ValidateOptions, tableProblems, validateTable } from './validate';
export { tokenize, type OptArg } from './args';
export type { LinearTarget, StripedTarget, Stripe, ZeroTarget, ErrorTarget, StripedStatus, EmptyStatus, HealthChar } from './targets/basic';
export {
  type SnapshotOriginTarget, type SnapshotTarget, type SnapshotMergeTarget, type SnapshotStore, type SnapshotStatus,
  parseSnapshotStatus, percentFull, mergeProgress, mergeComplete, isInvalid,
} from './targets/snapshot';
export type { CryptTarget } from './targets/crypt';
export type { FlakeyTarget, DelayTarget, DelayPath, DelayStatus, LogWritesTarget, LogWritesStatus } from './targets/debugging';
export { type ThinPoolTarget, type ThinTarget, type ThinPoolStatus, type ThinStatus, parseThinPoolStatus, parseThinStatus } from './targets/thin';
export type { MirrorTarget, MirrorLeg, MirrorStatus } from './targets/mirror';
export { type CacheTarget, type CacheStatus, parseCacheStatus } from './targets/cache';
export type { VerityTarget, VerityStatus } from './targets/verity';
export type { IntegrityTarget, IntegrityOption, IntegrityStatus } from './targets/integrity';
