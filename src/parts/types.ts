/** Reads `length` bytes at byte `offset`; may return fewer bytes only at the end of the device. */
export type ReadAt = (offset: bigint, length: number) => Buffer;

/** One partition. `start` and `sectors` count 512-byte sectors (also on 4Kn disks), as dm tables do. */
export interface Partition {
  /** kpartx's number: MBR slot 1–4, logicals from 5, GPT entry index + 1. */
  number: number;
  start: bigint;
  /** The extent recorded on disk; for an extended partition kpartx maps only its first 2 sectors. */
  sectors: bigint;
  kind: 'primary' | 'extended' | 'logical' | 'gpt';
  /** MBR: the type byte as '0x83'; GPT: the type GUID, lower case. */
  type: string;
  bootable?: boolean;
  /** GPT partition name (UTF-16LE on disk). */
  name?: string;
  /** GPT unique partition GUID, lower case. */
  uuid?: string;
  /** For a logical partition: the number of the extended partition holding it. */
  container?: number;
}

/** A partition table as read: scheme, disk size and the partitions in kpartx's order. */
export interface PartitionTable {
  scheme: 'mbr' | 'gpt';
  /** Size of the device in 512-byte sectors. */
  diskSectors: bigint;
  /** Logical sector size the table was read with (512 or 4096). */
  sectorSize: number;
  /** In kpartx's order of slots: primaries/GPT entries by number, then logicals. Empty slots are left out. */
  partitions: Partition[];
  /** MBR disk signature as 8 hex digits, or the GPT disk GUID. */
  diskId?: string;
  /** What was tolerated (as kpartx tolerates it), e.g. a damaged primary GPT header and the use of the backup. */
  notes: string[];
}

/** Options of readPartitionTable(). */
export interface ReadOptions {
  /** Logical sector size of the device (BLKSSZGET). Default 512. */
  sectorSize?: 512 | 4096;
  /** Like `kpartx -g`: use a valid GPT even when the MBR is not protective. */
  forceGpt?: boolean;
}
