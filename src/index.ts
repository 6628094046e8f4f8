// devmapper's public API: raw ioctls under `dm`, loop devices under `loop`, the typed table
// and status model, and typed loading and reading of tables, at the top level.
export * as dm from './dm';
export * as loop from './loop';
// Atomic live operations: replace, transactions, divert/merge/discard, snapshots, COW monitoring.
export * as ops from './ops';
// Disk images: partition tables as kpartx reads and maps them, LVM2 metadata as lvm2 reads it.
export * as parts from './parts';
export * as lvm from './lvm';
export * from './table';
// Typed tables to and from the kernel (src/table itself stays pure).
export {
  type KernelDeviceProvider, type KernelDeviceProviderOptions, type TableLoadOptions, type ReadTableOptions, type ReadStatusOptions,
  loadTable, readTable, readStatus, statusAs, kernelDeviceProvider, kernelVersions, kernelTableProblems, devPathFormatter,
} from './table/kernel';
export * from './units';
export { DmError } from './errors';
