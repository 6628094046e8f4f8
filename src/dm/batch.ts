// Many new devices at once, as libdevmapper's activation of a whole tree does it: every create,
// load and resume in one native call (one trip off the JS thread), nodes made afterwards.
import { callerStack, fromNative } from '../errors';
import { DmCmd, native } from '../native';
import type { RawRequest } from '../native';
import { observe } from './call';
import { addressOf } from './device';
import { DmFlag } from './flags';
import { toInfo } from './info';
import type { DeviceInfo } from './info';
import { remove } from './lifecycle';
import { dropNode, ensureNode } from './nodes';
import { infoSync } from './query';
import { checkUdevChoice, udevCookie, udevKindOf, udevMakesNode } from './udev';
import type { UdevChoice } from './udev';
import { checkMinor, checkName, checkTargets, checkUuid } from './validate';
import type { TargetInput } from './validate';

/** One device for createDevices: its name, optional uuid, and the raw table to load and resume. */
export interface NewDevice {
  name: string;
  uuid?: string;
  readOnly?: boolean;
  /** Ask for this minor number (persistent device). */
  minor?: number;
  table: TargetInput[];
  /** udev flags of its resume (default: by its uuid, see dm/udev.ts). */
  udev?: UdevChoice;
}

const STEPS = 3; // DEV_CREATE, TABLE_LOAD, DEV_SUSPEND (resume)

/**
 * Creates, loads and resumes every device, in the order given, as one native call. All or none:
 * when a step fails, the devices this call made are removed and the step's error is thrown.
 */
export async function createDevices(devices: readonly NewDevice[]): Promise<DeviceInfo[]> {
  const stack = callerStack();
  const plan = [];
  for (const d of devices) {
    const name = checkName(d.name);
    const uuid = d.uuid === undefined ? undefined : checkUuid(d.uuid);
    const ro = d.readOnly ? DmFlag.READONLY : 0;
    const create: RawRequest = { name, flags: ro, ...(uuid !== undefined ? { uuid } : {}) };
    if (d.minor !== undefined) Object.assign(create, { major: 0, minor: checkMinor(d.minor), flags: ro | DmFlag.PERSISTENT_DEV });
    const eventNr = await udevCookie(addressOf(uuid !== undefined ? { uuid } : name), checkUdevChoice(d.udev));
    plan.push({ name, eventNr, reqs: [
      [DmCmd.DEV_CREATE, create],
      [DmCmd.TABLE_LOAD, { name, targets: checkTargets(d.table), flags: ro, secure: false }],
      [DmCmd.DEV_SUSPEND, { name, flags: 0, eventNr }],
    ] as [DmCmd, RawRequest][] });
  }
  const reqs = plan.flatMap((p) => p.reqs);
  for (const [cmd, req] of reqs) observe(cmd, req);
  const r = await native.dmIoctlSequence(reqs);
  if (r.failedAt >= 0) {
    const at = Math.floor(r.failedAt / STEPS);
    const made = plan.slice(0, r.failedAt % STEPS === 0 ? at : at + 1);
    for (const p of made.reverse()) await remove(p.name, { retry: true }).catch(() => undefined);
    throw fromNative(r.error, DmCmd[reqs[r.failedAt]![0]], plan[at]!.name, stack);
  }
  const out = plan.map((p, i) => ({ p, reply: r.replies[i * STEPS + STEPS - 1]! }));
  await Promise.all(out.map(({ p, reply }) => ensureNode(p.name, reply.major, reply.minor, udevMakesNode(p.eventNr, reply.flags))));
  return out.map(({ reply }) => toInfo(reply));
}

/**
 * Removes the devices, in the order given (upper ones first), as one native call. From one that
 * is busy on, they go one by one with remove()'s retries (a udev probe holds a device for a
 * moment); any other failure is thrown, and the devices before it are gone.
 */
export async function removeDevices(names: readonly string[]): Promise<void> {
  const stack = callerStack();
  const plan = [];
  for (const n of names) {
    const name = checkName(n);
    let known: DeviceInfo | undefined;
    try {
      known = infoSync(name);
    } catch {
      known = undefined; // the remove says so
    }
    plan.push({ name, known, eventNr: await udevCookie(addressOf(name), udevKindOf(known?.uuid ?? '')) });
  }
  const reqs = plan.map((p): [DmCmd, RawRequest] => [DmCmd.DEV_REMOVE, { name: p.name, flags: 0, eventNr: p.eventNr }]);
  for (const [cmd, req] of reqs) observe(cmd, req);
  const r = await native.dmIoctlSequence(reqs);
  const done = r.failedAt >= 0 ? r.failedAt : plan.length;
  await Promise.all(plan.slice(0, done).map((p, i) => dropNode(p.name, p.known, udevMakesNode(p.eventNr, r.replies[i]!.flags))));
  if (r.failedAt < 0) return;
  const err = fromNative(r.error, 'DEV_REMOVE', plan[r.failedAt]!.name, stack);
  if ((err as { code?: string }).code !== 'EBUSY') throw err;
  for (const p of plan.slice(r.failedAt)) await remove(p.name, { retry: true });
}
