import { callerStack } from '../errors';
import { DmCmd } from '../native';
import { callAsync } from './call';
import { addressOf } from './device';
import type { DeviceRef } from './device';
import { DmFlag } from './flags';
import { toInfo } from './info';
import type { DeviceInfo } from './info';
import { ensureNode } from './nodes';

export interface SuspendOptions {
  /** Keep queued I/O instead of flushing it (DM_NOFLUSH_FLAG). */
  noflush?: boolean;
  /** Do not freeze a mounted filesystem (DM_SKIP_LOCKFS_FLAG). */
  skipLockfs?: boolean;
}

/** Returns once in-flight I/O has completed; later I/O waits until resume. */
export async function suspend(ref: DeviceRef, o: SuspendOptions = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  let flags = DmFlag.SUSPEND;
  if (o.noflush) flags |= DmFlag.NOFLUSH;
  if (o.skipLockfs) flags |= DmFlag.SKIP_LOCKFS;
  return toInfo(await callAsync(DmCmd.DEV_SUSPEND, { ...a.fields, flags }, a.label, stack));
}

/** Makes a loaded inactive table live (if any) and lets I/O flow again. */
export async function resume(ref: DeviceRef, o: { node?: boolean } = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  const r = await callAsync(DmCmd.DEV_SUSPEND, { ...a.fields, flags: 0 }, a.label, stack);
  if (o.node !== false && r.name) await ensureNode(r.name, r.major, r.minor, (r.flags & DmFlag.UEVENT_GENERATED) !== 0);
  return toInfo(r);
}
