import { callerStack, fromNative } from '../errors';
import { DmCmd, native } from '../native';
import type { RawReply, RawRequest } from '../native';

/** What a test hook sees of each ioctl: the command and the fields that say how it was asked,
 *  and the target types, never the parameters (they may hold a key). */
export interface IoctlSeen {
  cmd: string;
  name?: string;
  flags: number;
  secure: boolean;
  /** TABLE_LOAD: the target types loaded. */
  types?: string[];
}

let observer: ((seen: IoctlSeen) => void) | undefined;

/** Test hook: `fn` sees every device-mapper ioctl before it is issued (undefined: none). */
export function setIoctlObserver(fn?: (seen: IoctlSeen) => void): void {
  observer = fn;
}

export function observe(cmd: DmCmd, req: RawRequest): void {
  if (!observer) return;
  const types = req.targets?.map((t) => t.type);
  observer({ cmd: DmCmd[cmd], ...(req.name ? { name: req.name } : {}), flags: req.flags ?? 0, secure: !!req.secure, ...(types ? { types } : {}) });
}

export function callSync(cmd: DmCmd, req: RawRequest, label?: string): RawReply {
  observe(cmd, req);
  try {
    return native.dmIoctl(cmd, req);
  } catch (err) {
    throw fromNative(err, DmCmd[cmd], label);
  }
}

/** Runs the ioctl off the event loop. Pass the stack captured where the user called, before any
 *  await, so the DmError points at that line. */
export async function callAsync(cmd: DmCmd, req: RawRequest, label?: string, stack = callerStack()): Promise<RawReply> {
  observe(cmd, req);
  try {
    return await native.dmIoctlAsync(cmd, req);
  } catch (err) {
    throw fromNative(err, DmCmd[cmd], label, stack);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
