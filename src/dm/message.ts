import { callerStack } from '../errors';
import { DmCmd } from '../native';
import { callAsync, callSync } from './call';
import { addressOf } from './device';
import type { DeviceRef } from './device';
import { checkInt, checkMessage, checkSector } from './validate';

/** TARGET_MSG to the target at `sector` (messages starting with '@' go to dm itself, e.g.
 *  '@stats_list'). Returns what the kernel answered, if it answered anything. */
export async function targetMessage(
  ref: DeviceRef,
  sector: bigint | number,
  text: string,
  o: { secure?: boolean } = {},
): Promise<string | undefined> {
  const stack = callerStack();
  const a = addressOf(ref);
  const message = { sector: checkSector(sector, 'sector'), text: checkMessage(text) };
  const r = await callAsync(DmCmd.TARGET_MSG, { ...a.fields, message, secure: !!o.secure }, a.label, stack);
  return r.message;
}

/** A device geometry for setGeometry(): cylinders, heads, sectors and start sector. */
export interface Geometry {
  cylinders: number;
  heads: number;
  sectors: number;
  start: number | bigint;
}

/** DEV_SET_GEOMETRY (the CHS a PC BIOS would see; erased when the device size changes). */
export async function setGeometry(ref: DeviceRef, g: Geometry): Promise<void> {
  const stack = callerStack();
  const a = addressOf(ref);
  // The kernel's limits (struct hd_geometry).
  const geometry = [
    checkInt(g.cylinders, 'cylinders', 65535),
    checkInt(g.heads, 'heads', 255),
    checkInt(g.sectors, 'sectors', 255),
    checkSector(g.start, 'start'),
  ].join(' ');
  await callAsync(DmCmd.DEV_SET_GEOMETRY, { ...a.fields, geometry }, a.label, stack);
}

/** DEV_ARM_POLL on the shared control fd: poll() on it then reports any later dm event.
 *  waitEvent() uses a control fd of its own; this is for completeness. */
export function armPoll(): void {
  callSync(DmCmd.DEV_ARM_POLL, {});
}
