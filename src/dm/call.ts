import { callerStack, fromNative } from '../errors';
import { DmCmd, native } from '../native';
import type { RawReply, RawRequest } from '../native';

export function callSync(cmd: DmCmd, req: RawRequest, label?: string): RawReply {
  try {
    return native.dmIoctl(cmd, req);
  } catch (err) {
    throw fromNative(err, DmCmd[cmd], label);
  }
}

/** Runs the ioctl off the event loop. Pass the stack captured where the user called, before any
 *  await, so the DmError points at that line. */
export async function callAsync(cmd: DmCmd, req: RawRequest, label?: string, stack = callerStack()): Promise<RawReply> {
  try {
    return await native.dmIoctlAsync(cmd, req);
  } catch (err) {
    throw fromNative(err, DmCmd[cmd], label, stack);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
