import fs from 'node:fs';
import { udevRunning } from '../dm';
import { callerStack } from '../errors';
import { native } from '../native';
import { callNative, retryBusy } from './call';
import { devicePathOf } from './validate';

/** udev and blkid open new devices briefly; older kernels answer EBUSY meanwhile. */
const DETACH_TRIES = 10;
const DETACH_DELAY_MS = 50;
/** How long a probe by udev may hold the device after LOOP_CLR_FD made the detach lazy. */
const UDEV_HOLD_MS = 2000;

/** Unbinds the device from its backing file. If something else still holds the device open
 *  (a mount, a device-mapper table), the kernel detaches it lazily, on that last close. */
export async function detach(device: string | number): Promise<void> {
  const stack = callerStack();
  const path = devicePathOf(device);
  await retryBusy(DETACH_TRIES, DETACH_DELAY_MS, async () =>
    callNative(stack, 'LOOP_CLR_FD', path, () => native.loopDetach(path)),
  );
  const n = /loop(\d+)$/.exec(path)?.[1];
  if (n !== undefined) await udevHoldEnds(Number(n));
}

/**
 * Where udev runs, its probe (of a new binding, or after a close that wrote) often holds the
 * device just now, which makes the kernel detach lazily (LOOP_CLR_FD, autoclear): waits, bounded,
 * for that hold to end. A real holder (a mount, a dm table) outlasts the wait; the detach stays lazy.
 */
export async function udevHoldEnds(n: number): Promise<void> {
  // Claimed by a device above it (a dm table holding a COW store): the detach stays lazy until that
  // table goes, and waiting would only cost the full bound (2 s on every divert and snapshot).
  if (holders(n).length || !(await udevRunning())) return;
  const end = Date.now() + UDEV_HOLD_MS;
  while (fs.existsSync(`/sys/block/loop${n}/loop/backing_file`) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

function holders(n: number): string[] {
  try {
    return fs.readdirSync(`/sys/block/loop${n}/holders`);
  } catch {
    return [];
  }
}
