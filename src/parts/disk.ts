// Bounds-checked access to the device behind a ReadAt callback.
import { PartitionTableError } from './errors';
import type { ReadAt } from './types';

export class Disk {
  /** Size in 512-byte sectors. */
  readonly sectors: bigint;
  /** Size in logical sectors. */
  readonly lbas: bigint;
  /** 512-byte sectors per logical sector (kpartx's sector_size_mul). */
  readonly mul: bigint;

  constructor(private readonly readAt: ReadAt, readonly bytes: bigint, readonly sectorSize: number) {
    this.sectors = bytes / 512n;
    this.lbas = bytes / BigInt(sectorSize);
    this.mul = BigInt(sectorSize / 512);
  }

  /** `length` bytes at `offset`; ERANGE past the end of the device, ETRUNC if the device returns less. */
  read(offset: bigint, length: number, where: string): Buffer {
    const end = offset + BigInt(length);
    if (offset < 0n || end > this.bytes) {
      throw new PartitionTableError('ERANGE', where, `bytes ${offset}–${end} lie past the end of the device (${this.bytes} bytes)`);
    }
    const got = this.readAt(offset, length);
    if (!Buffer.isBuffer(got) || got.length < length) {
      const n = Buffer.isBuffer(got) ? got.length : 0;
      throw new PartitionTableError('ETRUNC', where, `the device returned ${n} of ${length} bytes at byte ${offset} although it claims ${this.bytes} bytes`);
    }
    return got.length === length ? got : got.subarray(0, length);
  }

  /** The 512 bytes at 512-byte sector `s` (MBR and EBRs are addressed this way, also on 4Kn). */
  sector512(s: bigint, where: string): Buffer {
    return this.read(s * 512n, 512, where);
  }

  lba(lba: bigint, count: number, where: string): Buffer {
    return this.read(lba * BigInt(this.sectorSize), count * this.sectorSize, where);
  }
}
