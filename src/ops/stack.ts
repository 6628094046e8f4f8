// Stack order from TABLE_DEPS, and the devices this process holds suspended.
import * as dm from '../dm';
import type { DevNum } from '../table';
import { devKey, dmDeviceAt, infoOrNone, tableRefs } from './kernel';

/** dev_t ("M:m") -> name of every device this process has suspended and not yet resumed. */
const held = new Map<string, string>();

export function heldSuspended(): ReadonlyMap<string, string> {
  return held;
}

/** DEV_SUSPEND, remembered so that no table referencing the device is loaded meanwhile. */
export async function suspendHeld(name: string, o: dm.SuspendOptions = {}): Promise<void> {
  const i = await dm.suspend(name, o);
  held.set(devKey(i), name);
}

/** Resume, and forget the device as held. */
export async function resumeHeld(name: string): Promise<void> {
  const i = dm.infoSync(name);
  await dm.resume(name);
  held.delete(devKey(i));
}

/** Brings the held set in line with the kernel after suspends and resumes made in one native call. */
export function syncHeld(names: readonly string[]): void {
  for (const n of names) {
    const i = infoOrNone(n);
    if (!i) continue;
    if (i.flags.suspended) held.set(devKey(i), n);
    else held.delete(devKey(i));
  }
}

/** Forgets a device that is gone (removed while suspended). */
export function forgetHeld(d: DevNum): void {
  held.delete(devKey(d));
}

/** Throws when the table references a device this process holds suspended: loading it could hang
 *  (a snapshot reads its COW header while it loads) or deadlock on writeback. */
export function checkNoHeldRefs(device: string, targets: readonly { params: string }[]): void {
  for (const r of tableRefs(targets)) {
    const name = held.get(devKey(r));
    if (name !== undefined) {
      throw new Error(`refusing to load a table for ${device} that references ${name} (${devKey(r)}), which devmapper holds suspended`);
    }
  }
}

/** Every dm device below `name` (transitively), by TABLE_DEPS of its live and inactive tables. */
export function devicesBelow(name: string): Set<string> {
  const out = new Set<string>();
  const walk = (n: string, inactiveToo: boolean): void => {
    const info = infoOrNone(n);
    if (!info) return;
    const deps = [...dm.depsSync(n)];
    if (inactiveToo && info.flags.inactivePresent) deps.push(...dm.depsSync(n, { inactive: true }));
    for (const d of deps) {
      const below = dmDeviceAt(d);
      if (below && !out.has(below.name)) {
        out.add(below.name);
        walk(below.name, false);
      }
    }
  };
  walk(name, true);
  return out;
}

/** The devices in stack order, top first (a device before every device it sits on). Suspend in
 *  this order; resume and roll back in the reverse. */
export function stackOrder(names: readonly string[]): string[] {
  const below = new Map(names.map((n) => [n, devicesBelow(n)]));
  for (const n of names) {
    if (below.get(n)!.has(n)) throw new Error(`${n} sits on itself: a cycle in the device stack`);
  }
  const out: string[] = [];
  const left = new Set(names);
  while (left.size) {
    // A device no other remaining device sits on is on top.
    const pick = [...left].find((n) => ![...left].some((m) => m !== n && below.get(m)!.has(n)));
    if (pick === undefined) throw new Error(`no stack order for ${[...left].join(', ')}: they sit on each other`);
    out.push(pick);
    left.delete(pick);
  }
  return out;
}
