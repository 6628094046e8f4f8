import fs from 'node:fs/promises';
import { callerStack } from '../errors';
import { native } from '../native';
import { callNative, retryBusy } from './call';
import { udevHoldEnds } from './detach';
import { deviceNumbers } from './sysfs';
import type { AttachOptions, LoopDevice } from './types';
import { planAttach } from './validate';

/** Another process may bind the free device between LOOP_CTL_GET_FREE and LOOP_CONFIGURE, or
 *  hold it open exclusively for a moment. */
const ATTACH_TRIES = 8;
const ATTACH_DELAY_MS = 10;

/** Binds `file` to a free loop device. */
export async function attach(file: string, opts: AttachOptions = {}): Promise<LoopDevice> {
  const stack = callerStack();
  const plan = planAttach(file, opts);
  if (plan.size !== undefined) await ensureSize(plan.file, plan.size);
  return retryBusy(ATTACH_TRIES, ATTACH_DELAY_MS, async () => {
    const number = await callNative(stack, 'LOOP_CTL_GET_FREE', undefined, () => native.loopGetFree());
    const path = `/dev/loop${number}`;
    const { major, minor } = await deviceNumbers(number);
    await ensureNode(stack, path, major, minor);
    // Opened before binding: an autoclear device detaches on its last close, which would
    // otherwise be the addon's own.
    const hold = plan.config.autoclear ? await fs.open(path, 'r') : undefined;
    try {
      await callNative(stack, 'LOOP_CONFIGURE', path, () => native.loopAttach(path, plan.file, plan.config));
    } catch (err) {
      await hold?.close();
      throw err;
    }
    const device: LoopDevice = { path, number, major, minor, file: plan.file };
    if (hold) device.release = async () => {
      await hold.close();
      await udevHoldEnds(number);
    };
    return device;
  });
}

/** Creates the file sparse, or extends it; never shortens it. */
async function ensureSize(file: string, size: bigint): Promise<void> {
  const fh = await fs.open(file, 'a');
  try {
    if ((await fh.stat({ bigint: true })).size < size) await fh.truncate(Number(size));
  } finally {
    await fh.close();
  }
}

/** Without devtmpfs (some containers) a new device has no node yet. */
async function ensureNode(stack: string, path: string, major: number, minor: number): Promise<void> {
  try {
    await fs.stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await callNative(stack, 'mknod', path, () => native.mknodBlock(path, 0o660, major, minor));
  }
}
