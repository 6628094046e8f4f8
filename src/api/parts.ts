// Partition tables as the main entry's `parts` namespace.
export type { Partition, PartitionTable, ReadAt, ReadOptions } from '../parts/types';
export { PartitionTableError, PartsError, type PartitionTableErrorCode } from '../parts/errors';
export { addPartitions, listPartitions, removePartitions, type Disk, type PartitionListing, type PartsOptions } from '../parts/devices';
export { readPartitionTable } from '../parts/table';
export { kpartxMappings, kpartxName, type KpartxMapping, type KpartxOptions } from '../parts/kpartx';
export { bufferReader } from '../parts';
