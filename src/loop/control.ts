// /dev/loop-control: allocating and removing loop devices themselves (not their bindings).
import { callerStack } from '../errors';
import { native } from '../native';
import { callNative, retryBusy } from './call';
import { checkNumber } from './validate';

/** The number of an unbound device, created if none is free. Another process may take it first. */
export async function freeDevice(): Promise<number> {
  const stack = callerStack();
  return callNative(stack, 'LOOP_CTL_GET_FREE', undefined, () => native.loopGetFree());
}

/** Creates /dev/loopN; fails with EEXIST if it exists. */
export async function addDevice(n: number): Promise<number> {
  const stack = callerStack();
  checkNumber(n);
  return callNative(stack, 'LOOP_CTL_ADD', undefined, () => native.loopAdd(n));
}

/** Removes /dev/loopN; fails with EBUSY while it is bound or open (retried a moment first: udev
 *  opens a new device briefly to probe it). */
export async function removeDevice(n: number): Promise<void> {
  const stack = callerStack();
  checkNumber(n);
  await retryBusy(8, 50, async () => callNative(stack, 'LOOP_CTL_REMOVE', undefined, () => native.loopRemove(n)));
}
