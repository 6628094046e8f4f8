import { LvmError } from './errors';

/**
 * Reads `length` bytes at byte `offset` of a device. At the end of the device it returns fewer
 * bytes (or none); it may throw its own I/O errors, which pass through untouched.
 */
export type ReadAt = (offset: bigint, length: number) => Buffer;

/** A byte range on the device, as the PV header lists them. */
export interface DiskArea {
  offset: bigint;
  size: bigint;
}

export const SECTOR = 512;

export function readExact(read: ReadAt, offset: bigint, length: number, what: string): Buffer {
  const buf = read(offset, length);
  if (buf.length < length) {
    throw new LvmError('TRUNCATED', `byte ${offset}`, `${what}: needed ${length} bytes, the device gave ${buf.length}`);
  }
  return buf.length === length ? buf : buf.subarray(0, length);
}
