// Direct I/O (O_DIRECT) for long sequential copies: the data skips the page cache, which a copy
// would only fill with pages nobody reads again, and a read-back reads the medium, not the cache.
import fs from 'node:fs';
import { native } from './native';

/** The alignment every direct transfer keeps (buffer, offset and length): the largest logical
 *  block size Linux block devices have. */
export const DIRECT_ALIGN = 4096;

/** `size` zeroed bytes at an address aligned for O_DIRECT. */
export function directBuffer(size: number): Buffer {
  return native.alignedBuffer(size);
}

/** The file or device opened again with O_DIRECT, or undefined where that is not possible (tmpfs,
 *  some FUSE filesystems: EINVAL). */
export function openDirect(file: string, flags: number): number | undefined {
  try {
    return fs.openSync(file, flags | fs.constants.O_DIRECT);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw e;
  }
}
