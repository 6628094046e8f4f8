// Devices coming and going: create, remove, removeAll, rename.
import { callerStack } from '../errors';
import { DmCmd } from '../native';
import type { RawRequest } from '../native';
import { callAsync, sleep } from './call';
import { addressOf } from './device';
import type { DeviceRef } from './device';
import { DmFlag } from './flags';
import { toInfo } from './info';
import type { DeviceInfo } from './info';
import { dropNode, ensureNode, yieldToUdev } from './nodes';
import { infoSync } from './query';
import { checkUdevChoice, udevCookie, udevKindOf, udevLinksName, udevMakesNode, udevRunningCached } from './udev';
import type { UdevChoice } from './udev';
import { checkMinor, checkName, checkUuid } from './validate';

/** Options of create(). */
export interface CreateOptions {
  uuid?: string;
  /** Tables loaded later default to read-only. */
  readOnly?: boolean;
  /** Ask for this minor number (persistent device). */
  minor?: number;
  /** Make /dev/mapper/<name> (default true). */
  node?: boolean;
}

/** DEV_CREATE: a new device with no table (suspended, every I/O errors until a table is live). */
export async function create(name: string, o: CreateOptions = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const req: RawRequest = { name: checkName(name), flags: o.readOnly ? DmFlag.READONLY : 0 };
  if (o.uuid !== undefined) req.uuid = checkUuid(o.uuid);
  if (o.minor !== undefined) {
    // Only the minor counts: the kernel always uses its own major for dm.
    Object.assign(req, { major: 0, minor: checkMinor(o.minor), flags: (req.flags ?? 0) | DmFlag.PERSISTENT_DEV });
  }
  const r = await callAsync(DmCmd.DEV_CREATE, req, req.name, stack);
  if (o.node !== false) await ensureNode(name, r.major, r.minor, false);
  return toInfo(r);
}

/** The device's name, asking the kernel when it was addressed otherwise. */
export function nameOf(ref: DeviceRef): string {
  const a = addressOf(ref);
  return a.name ?? infoSync(ref).name;
}

/** Options of remove(). */
export interface RemoveOptions {
  /** If the device is open, remove it when its last opener closes it (instead of EBUSY). */
  deferred?: boolean;
  /** Retry EBUSY (udev/blkid briefly hold new devices): true (default) = 25 × 200 ms, like LVM.
   *  With false, where udev runs, EBUSY is still retried for about a second: udev's probe of a
   *  device just resumed or closed after writing holds it that long, and dmsetup, which waits for
   *  udev before returning, never meets it. */
  retry?: boolean | { attempts: number; delayMs: number };
  /** Remove /dev/mapper/<name> too (default true). */
  node?: boolean;
  /** udev flags for the remove event (default: by the device's uuid, see dm/udev.ts). */
  udev?: UdevChoice;
}

/** What remove() did. */
export interface RemoveResult {
  /** True when the device was still open and is only scheduled for removal. */
  deferred: boolean;
}

/** How long a udev probe may hold a device: what remove() retries and settledOpenCount() waits out. */
const UDEV_PROBE = { attempts: 10, delayMs: 100 };

function retryPlan(r: RemoveOptions['retry'], udev: boolean): { attempts: number; delayMs: number } {
  if (r === false) return udev ? UDEV_PROBE : { attempts: 1, delayMs: 0 };
  if (r === undefined || r === true) return { attempts: 25, delayMs: 200 };
  return r;
}

/** DEV_REMOVE. */
export async function remove(ref: DeviceRef, o: RemoveOptions = {}): Promise<RemoveResult> {
  const stack = callerStack();
  const choice = checkUdevChoice(o.udev);
  const known = lookup(ref);
  const name = known?.name ?? nameOf(ref);
  const plan = retryPlan(o.retry, await udevRunningCached());
  const eventNr = await udevCookie(addressOf(name), choice ?? udevKindOf(known?.uuid ?? ''));
  const req: RawRequest = { name, flags: o.deferred ? DmFlag.DEFERRED_REMOVE : 0, eventNr };
  for (let i = 1; ; i++) {
    try {
      const r = await callAsync(DmCmd.DEV_REMOVE, req, name, stack);
      const deferred = (r.flags & DmFlag.DEFERRED_REMOVE) !== 0;
      if (!deferred && o.node !== false) await dropNode(name, known, udevMakesNode(eventNr, r.flags));
      return { deferred };
    } catch (err) {
      if ((err as { code?: string }).code !== 'EBUSY' || i >= plan.attempts) throw err;
      await sleep(plan.delayMs);
    }
  }
}

/**
 * The device's open count once a udev probe has let go of it: where udev runs, blkid opens a
 * device for a moment after a resume, or after a close that wrote to it, and a refusal on that
 * open would be spurious. Read again for about a second while it stays above zero, as remove()
 * retries EBUSY; 0 when the device is gone.
 */
export async function settledOpenCount(ref: DeviceRef): Promise<number> {
  let open = lookup(ref)?.openCount ?? 0;
  if (open === 0 || !(await udevRunningCached())) return open;
  for (let i = 0; open > 0 && i < UDEV_PROBE.attempts; i++) {
    await sleep(UDEV_PROBE.delayMs);
    open = lookup(ref)?.openCount ?? 0;
  }
  return open;
}

/** The device now, or undefined when there is none (the ioctl that follows says so). */
function lookup(ref: DeviceRef): DeviceInfo | undefined {
  try {
    return infoSync(ref);
  } catch {
    return undefined;
  }
}

/** REMOVE_ALL: removes every dm device that is not open. Only sensible on a test machine. */
export async function removeAll(o: { deferred?: boolean } = {}): Promise<void> {
  const stack = callerStack();
  await callAsync(DmCmd.REMOVE_ALL, { flags: o.deferred ? DmFlag.DEFERRED_REMOVE : 0 }, undefined, stack);
}

/** DEV_RENAME to a new name, or set the uuid of a device that has none. The node follows. */
export async function rename(ref: DeviceRef, to: { name: string } | { uuid: string }, o: { udev?: UdevChoice } = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const choice = checkUdevChoice(o.udev);
  const known = lookup(ref);
  const name = known?.name ?? nameOf(ref);
  const byUuid = 'uuid' in to;
  const newName = byUuid ? checkUuid(to.uuid, 'new uuid') : checkName((to as { name: string }).name, 'new name');
  // A new uuid may change what the device is to udev: classify by the uuid it gets.
  const eventNr = await udevCookie(addressOf(name), choice ?? udevKindOf(byUuid ? newName : known?.uuid ?? ''));
  if (!byUuid && udevLinksName(eventNr)) yieldToUdev(name);
  const r = await callAsync(DmCmd.DEV_RENAME, { name, newName, flags: byUuid ? DmFlag.UUID : 0, eventNr }, name, stack);
  if (!byUuid) {
    const byUdev = udevMakesNode(eventNr, r.flags);
    await dropNode(name, r, byUdev);
    await ensureNode(newName, r.major, r.minor, byUdev);
  }
  // The reply's name/uuid fields are the ones we sent; report the device as it now is.
  return { ...toInfo(r), ...(byUuid ? { uuid: newName } : { name: newName }) };
}
