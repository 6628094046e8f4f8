import { callerStack, fromNative } from '../errors';
import { DmCmd, native } from '../native';
import type { RawRequest } from '../native';
import { callAsync, observe } from './call';
import { addressOf } from './device';
import type { Address, DeviceRef } from './device';
import { DmFlag } from './flags';
import { toInfo } from './info';
import type { DeviceInfo } from './info';
import { ensureNode, yieldToUdev } from './nodes';
import { infoSync } from './query';
import { checkUdevChoice, udevCookie, udevLinksName, udevMakesNode } from './udev';
import type { UdevChoice } from './udev';

/** Options of suspend(), suspendSequence() and suspendResumeCycle(). */
export interface SuspendOptions {
  /** Keep queued I/O instead of flushing it (DM_NOFLUSH_FLAG). */
  noflush?: boolean;
  /** Do not freeze a mounted filesystem (DM_SKIP_LOCKFS_FLAG). */
  skipLockfs?: boolean;
}

function suspendFlags(o: SuspendOptions): number {
  let flags = DmFlag.SUSPEND;
  if (o.noflush) flags |= DmFlag.NOFLUSH;
  if (o.skipLockfs) flags |= DmFlag.SKIP_LOCKFS;
  return flags;
}

/** Returns once in-flight I/O has completed; later I/O waits until resume. */
export async function suspend(ref: DeviceRef, o: SuspendOptions = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  return toInfo(await callAsync(DmCmd.DEV_SUSPEND, { ...a.fields, flags: suspendFlags(o) }, a.label, stack));
}

/**
 * What suspendResumeCycle() and suspendSequence() did: steps completed, the one that failed, and the time taken.
 */
export interface CycleResult {
  /** How many of the steps completed. */
  completed: number;
  /** The step that failed: its index in the step list, whether it was a suspend, and the error. */
  failed?: { index: number; suspend: boolean; device: string; error: Error };
  /** Nanoseconds from the start of the first step to the end of the last step run. */
  elapsedNs: number;
}

/** One step of suspendSequence: suspend the device (with the sequence's options), or resume it. */
export interface SuspendStep {
  ref: DeviceRef;
  suspend: boolean;
  /** udev flags of a resume step (default: by the device's uuid, see dm/udev.ts). */
  udev?: UdevChoice;
}

/**
 * Suspends and resumes devices in the order given, as one native call: between the steps only the
 * kernel runs. Stops at the first failure and leaves the rest to the caller (which knows how to
 * roll back).
 */
export async function suspendSequence(steps: readonly SuspendStep[], o: SuspendOptions = {}): Promise<CycleResult> {
  const stack = callerStack();
  const run = steps.map((s) => ({ a: addressOf(s.ref), suspend: s.suspend, udev: checkUdevChoice(s.udev), eventNr: 0 }));
  // Decided before the window: inside it only the kernel runs.
  for (const s of run) {
    if (s.suspend) continue;
    s.eventNr = await udevCookie(s.a, s.udev);
    beforeResume(s.a, s.eventNr); // a failed step leaves the rest to the caller's rollback
  }
  const reqs: [DmCmd, RawRequest][] = run.map((s) => [DmCmd.DEV_SUSPEND, { ...s.a.fields, flags: s.suspend ? suspendFlags(o) : 0, eventNr: s.eventNr }]);
  for (const [cmd, req] of reqs) observe(cmd, req);
  const r = await native.dmIoctlSequence(reqs);
  if (r.failedAt >= 0) {
    const s = run[r.failedAt];
    const error = fromNative(r.error, 'DEV_SUSPEND', s.a.label, stack);
    return { completed: r.failedAt, failed: { index: r.failedAt, suspend: s.suspend, device: s.a.label, error }, elapsedNs: r.elapsedNs };
  }
  for (const [i, s] of run.entries()) {
    const reply = r.replies[i];
    if (!s.suspend && reply?.name) await ensureNode(reply.name, reply.major, reply.minor, udevMakesNode(s.eventNr, reply.flags));
  }
  return { completed: run.length, elapsedNs: r.elapsedNs };
}

/** Suspends `refs` in the order given (top of a stack first), then resumes them in the reverse
 *  order, as one native call: the freeze window is as short as a C program's. */
export function suspendResumeCycle(refs: readonly DeviceRef[], o: SuspendOptions = {}): Promise<CycleResult> {
  return suspendSequence([
    ...refs.map((ref) => ({ ref, suspend: true })),
    ...[...refs].reverse().map((ref) => ({ ref, suspend: false })),
  ], o);
}

/** A node of our own (made at create) makes way for udev's link; returns the device if it did. */
function beforeResume(a: Address, eventNr: number): DeviceInfo | undefined {
  if (!udevLinksName(eventNr)) return undefined;
  try {
    const i = infoSync(a.name ?? (a.fields.uuid !== undefined ? { uuid: a.fields.uuid } : { major: a.fields.major!, minor: a.fields.minor! }));
    return yieldToUdev(i.name) ? i : undefined;
  } catch {
    return undefined; // no such device: the resume says so
  }
}

/** Options of resume(). */
export interface ResumeOptions {
  /** Make /dev/mapper/<name> (default true). */
  node?: boolean;
  /** udev flags for the change event (default: by the device's uuid, see dm/udev.ts). */
  udev?: UdevChoice;
}

/** Makes a loaded inactive table live (if any) and lets I/O flow again. */
export async function resume(ref: DeviceRef, o: ResumeOptions = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  const eventNr = await udevCookie(a, checkUdevChoice(o.udev));
  const yielded = o.node !== false ? beforeResume(a, eventNr) : undefined;
  let r;
  try {
    r = await callAsync(DmCmd.DEV_SUSPEND, { ...a.fields, flags: 0, eventNr }, a.label, stack);
  } catch (err) {
    if (yielded) await ensureNode(yielded.name, yielded.major, yielded.minor, false).catch(() => undefined);
    throw err;
  }
  if (o.node !== false && r.name) await ensureNode(r.name, r.major, r.minor, udevMakesNode(eventNr, r.flags));
  return toInfo(r);
}
