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
export * from './api/table';

// Typed tables to and from the kernel: the one loader and the one reader.
export {
  type KernelDeviceProvider, type KernelDeviceProviderOptions, type TableLoadOptions, type ReadTableOptions, type ReadStatusOptions,
  loadTable, readTable, readStatus, statusAs, kernelDeviceProvider, kernelVersions, kernelTableProblems, devPathFormatter,
} from './table/kernel';
export type { DeviceRef, DeviceInfo, DeviceFlags } from './dm';
export type { DeviceHeader } from './native';

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
