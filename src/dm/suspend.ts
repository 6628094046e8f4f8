import { callerStack, fromNative } from '../errors';
import { DmCmd, native } from '../native';
import type { RawRequest } from '../native';
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

export interface CycleResult {
  /** How many of the steps (suspends in order, then resumes in reverse) completed. */
  completed: number;
  /** The step that failed: its index in the step list, whether it was a suspend, and the error. */
  failed?: { index: number; suspend: boolean; device: string; error: Error };
  /** Nanoseconds from the start of the first suspend to the end of the last step run. */
  elapsedNs: number;
}

/**
 * Suspends `refs` in the order given, then resumes them in the reverse order, as one native call:
 * between the first suspend and the last resume only the kernel runs, so the freeze window is as
 * short as a C program's. Stops at the first failure, leaving the rest to the caller (which knows
 * how to roll back); `stopBefore` ends the sequence before that step as if it had failed (fault
 * injection, with `injected` as its error).
 */
export async function suspendResumeCycle(
  refs: readonly DeviceRef[], o: SuspendOptions = {}, inject?: { stopBefore: number; error: Error },
): Promise<CycleResult> {
  const stack = callerStack();
  const addrs = refs.map(addressOf);
  const steps: { cmd: DmCmd; req: RawRequest; suspend: boolean; label: string; name?: string }[] = [
    ...addrs.map((a) => ({ cmd: DmCmd.DEV_SUSPEND, req: { ...a.fields, flags: suspendFlags(o) }, suspend: true, label: a.label })),
    ...[...addrs].reverse().map((a) => ({ cmd: DmCmd.DEV_SUSPEND, req: { ...a.fields, flags: 0 }, suspend: false, label: a.label, name: a.name })),
  ];
  const run = inject ? steps.slice(0, inject.stopBefore) : steps;
  const r = await native.dmIoctlSequence(run.map((s) => [s.cmd, s.req]));
  if (r.failedAt >= 0) {
    const s = run[r.failedAt];
    const error = fromNative(r.error, 'DEV_SUSPEND', s.label, stack);
    return { completed: r.failedAt, failed: { index: r.failedAt, suspend: s.suspend, device: s.label, error }, elapsedNs: r.elapsedNs };
  }
  for (const [i, s] of run.entries()) {
    const reply = r.replies[i];
    if (!s.suspend && reply?.name) await ensureNode(reply.name, reply.major, reply.minor, (reply.flags & DmFlag.UEVENT_GENERATED) !== 0);
  }
  if (inject && inject.stopBefore < steps.length) {
    const s = steps[inject.stopBefore];
    return { completed: run.length, failed: { index: inject.stopBefore, suspend: s.suspend, device: s.label, error: inject.error }, elapsedNs: r.elapsedNs };
  }
  return { completed: run.length, elapsedNs: r.elapsedNs };
}

/** Makes a loaded inactive table live (if any) and lets I/O flow again. */
export async function resume(ref: DeviceRef, o: { node?: boolean } = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  const r = await callAsync(DmCmd.DEV_SUSPEND, { ...a.fields, flags: 0 }, a.label, stack);
  if (o.node !== false && r.name) await ensureNode(r.name, r.major, r.minor, (r.flags & DmFlag.UEVENT_GENERATED) !== 0);
  return toInfo(r);
}
