// Partition tables (MBR with logicals, GPT) read as kpartx reads them, and what kpartx would map.
// The readers are pure (the device is reached only through a ReadAt callback); devices.ts makes
// and removes the partition devices.
export type { Partition, PartitionTable, ReadAt, ReadOptions } from './types';
export { PartitionTableError, PartsError, type PartitionTableErrorCode } from './errors';
export { addPartitions, listPartitions, removePartitions, type Disk, type PartitionListing, type PartsOptions } from './devices';
export { readPartitionTable } from './table';
export { kpartxDelimiter, kpartxListLines, kpartxMappings, kpartxName, kpartxSectors, type KpartxMapping, type KpartxOptions } from './kpartx';

import type { ReadAt } from './types';

/** A ReadAt over an image held in memory. */
export function bufferReader(image: Buffer): ReadAt {
  return (offset, length) => {
    const from = Number(offset < 0n ? 0n : offset > BigInt(image.length) ? BigInt(image.length) : offset);
    return image.subarray(from, Math.min(image.length, from + length));
  };
}
