// The one error the partition-table readers throw: bad input is described, never crashed on.

/** What is wrong with a partition table. */
export type PartitionTableErrorCode =
  /** the device returned fewer bytes than its size promises, or is smaller than one sector */
  | 'ETRUNC'
  /** a GPT header or entry array fails its CRC-32 (and no valid copy exists) */
  | 'ECRC'
  /** two partitions share sectors, or an EBR lies inside a logical partition */
  | 'EOVERLAP'
  /** a partition or EBR lies (partly) outside the disk, the usable GPT area or its extended partition */
  | 'ERANGE'
  /** neither an MBR nor a GPT that kpartx would read */
  | 'ENOTABLE'
  /** the EBR chain comes back to an EBR it already visited */
  | 'ELOOP'
  /** a field holds a value the format does not allow (GPT entry size not 128, header size, my_lba) */
  | 'EFORMAT';

/** A partition table that cannot be read: `code` says what, `where` says where on disk. */
export class PartitionTableError extends Error {
  /** Always `'PartitionTableError'`. */
  override name = 'PartitionTableError';
  /** What is wrong (see PartitionTableErrorCode). */
  readonly code: PartitionTableErrorCode;
  /** The place on disk, e.g. 'sector 0, entry 2', 'EBR at sector 4096', 'GPT header at LBA 1', 'GPT entry 3'. */
  readonly where: string;

  constructor(code: PartitionTableErrorCode, where: string, message: string) {
    super(`${where}: ${message}`);
    this.code = code;
    this.where = where;
  }
}

/** Partition devices refused as a whole: a name taken by another device (EEXIST), a partition
 *  open or mounted (EBUSY). Nothing was changed. */
export class PartsError extends Error {
  /** Always `'PartsError'`. */
  override name = 'PartsError';
  constructor(readonly code: 'EEXIST' | 'EBUSY', message: string) {
    super(message);
  }
}
