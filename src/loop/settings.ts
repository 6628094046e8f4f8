// Changes to a bound device.
import { callerStack } from '../errors';
import { native } from '../native';
import { callNative } from './call';
import { checkBlockSize, checkPath, devicePathOf } from './validate';

/** Re-reads the backing file's size after it grew (or shrank); returns the device's new size in bytes. */
export async function refreshCapacity(device: string | number): Promise<bigint> {
  const stack = callerStack();
  const path = devicePathOf(device);
  await callNative(stack, 'LOOP_SET_CAPACITY', path, () => native.loopSetCapacity(path));
  return callNative(stack, 'BLKGETSIZE64', path, () => native.blockDeviceSize(path));
}

/** LOOP_SET_DIRECT_IO: turns O_DIRECT access to the backing file on or off. */
export async function setDirectIo(device: string | number, on: boolean): Promise<void> {
  const stack = callerStack();
  const path = devicePathOf(device);
  if (typeof on !== 'boolean') throw new TypeError('on must be a boolean');
  await callNative(stack, 'LOOP_SET_DIRECT_IO', path, () => native.loopSetDirectIo(path, on));
}

/** LOOP_SET_BLOCK_SIZE: sets the device's logical block size (512, 1024, 2048 or 4096). */
export async function setBlockSize(device: string | number, size: number): Promise<void> {
  const stack = callerStack();
  const path = devicePathOf(device);
  checkBlockSize(size);
  await callNative(stack, 'LOOP_SET_BLOCK_SIZE', path, () => native.loopSetBlockSize(path, size));
}

/** Size in bytes of any block device. */
export async function blockDeviceSize(path: string): Promise<bigint> {
  const stack = callerStack();
  checkPath(path, 'path');
  return callNative(stack, 'BLKGETSIZE64', path, () => native.blockDeviceSize(path));
}

/** Writes back and drops a block device's page cache (BLKFLSBUF), e.g. after its table changed
 *  under pages read through the old one. */
export async function flushBuffers(path: string): Promise<void> {
  const stack = callerStack();
  checkPath(path, 'path');
  await callNative(stack, 'BLKFLSBUF', path, () => native.flushBuffers(path));
}
