import fs from 'node:fs/promises';
import nodePath from 'node:path';
import { callerStack } from '../errors';
import { native } from '../native';
import { callNative } from './call';
import { boundNumbers, deviceNumbers, readAttr } from './sysfs';
import type { LoopDeviceInfo } from './types';
import { devicePathOf } from './validate';

const LO_FLAGS = { READ_ONLY: 1, AUTOCLEAR: 4, PARTSCAN: 8, DIRECT_IO: 16 };
const DELETED = ' (deleted)';

/** The state of one bound device; fails with ENXIO when it is not bound. */
export async function info(device: string | number): Promise<LoopDeviceInfo> {
  return describe(callerStack(), devicePathOf(device));
}

/** Every bound loop device, by number. */
export async function list(): Promise<LoopDeviceInfo[]> {
  const stack = callerStack();
  const found = await Promise.all(
    (await boundNumbers()).map((n) =>
      // A device may be detached or removed between the sysfs scan and the ioctl.
      describe(stack, `/dev/loop${n}`).catch(async (err: unknown) => {
        if ((await readAttr(n, 'loop/backing_file')) === undefined) return undefined;
        throw err;
      }),
    ),
  );
  return found.filter((d): d is LoopDeviceInfo => d !== undefined);
}

/** Devices bound to this file, matched by device and inode (so any path to it will do), or by
 *  path when the file has since been unlinked. */
export async function findByBackingFile(file: string): Promise<LoopDeviceInfo[]> {
  const abs = nodePath.resolve(file);
  const st = await fs.stat(abs, { bigint: true }).catch(() => undefined);
  return (await list()).filter((d) =>
    st ? d.backingDevice === st.dev && d.backingInode === st.ino : d.file === abs,
  );
}

async function describe(stack: string, path: string): Promise<LoopDeviceInfo> {
  const st = await callNative(stack, 'LOOP_GET_STATUS64', path, () => native.loopStatus(path));
  const n = st.number;
  const [sysFile, numbers, blockSize] = await Promise.all([
    readAttr(n, 'loop/backing_file'),
    deviceNumbers(n),
    readAttr(n, 'queue/logical_block_size'),
  ]);
  // sysfs has the full path; the ioctl's copy is cut at 63 bytes.
  const raw = sysFile ?? st.backingFile;
  const deleted = raw.endsWith(DELETED);
  return {
    path,
    number: n,
    ...numbers,
    file: deleted ? raw.slice(0, -DELETED.length) : raw,
    deleted,
    offset: st.offset,
    sizeLimit: st.sizeLimit,
    readOnly: (st.flags & LO_FLAGS.READ_ONLY) !== 0,
    autoclear: (st.flags & LO_FLAGS.AUTOCLEAR) !== 0,
    partscan: (st.flags & LO_FLAGS.PARTSCAN) !== 0,
    directIo: (st.flags & LO_FLAGS.DIRECT_IO) !== 0,
    blockSize: Number(blockSize ?? 512),
    backingDevice: st.backingDevice,
    backingInode: st.backingInode,
  };
}
