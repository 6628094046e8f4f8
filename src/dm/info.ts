import type { RawReply, RawTarget } from '../native';
import { decodeFlags } from './flags';
import type { DeviceFlags } from './flags';

/** What DEV_STATUS (and most other replies) say about a device. */
export interface DeviceInfo {
  name: string;
  /** '' when the device has none. */
  uuid: string;
  major: number;
  minor: number;
  openCount: number;
  eventNr: number;
  /** Targets of the live table (of the inactive one when that was queried). */
  targetCount: number;
  flags: DeviceFlags;
}

/** One line of a table or of its status: start and length in 512-byte sectors. */
export type TargetLine = RawTarget;

export function toInfo(r: RawReply): DeviceInfo {
  return {
    name: r.name,
    uuid: r.uuid,
    major: r.major,
    minor: r.minor,
    openCount: r.openCount,
    eventNr: r.eventNr,
    targetCount: r.targetCount,
    flags: decodeFlags(r.flags),
  };
}
