import { callerStack } from '../errors';
import { native } from '../native';
import { callNative, retryBusy } from './call';
import { devicePathOf } from './validate';

/** udev and blkid open new devices briefly; older kernels answer EBUSY meanwhile. */
const DETACH_TRIES = 10;
const DETACH_DELAY_MS = 50;

/** Unbinds the device from its backing file. If something else still holds the device open
 *  (a mount, a device-mapper table), the kernel detaches it lazily, on that last close. */
export async function detach(device: string | number): Promise<void> {
  const stack = callerStack();
  const path = devicePathOf(device);
  await retryBusy(DETACH_TRIES, DETACH_DELAY_MS, async () =>
    callNative(stack, 'LOOP_CLR_FD', path, () => native.loopDetach(path)),
  );
}
