import type { DeviceHeader, RawReply, RawTarget } from '../native';
import { decodeFlags } from './flags';
import type { DeviceFlags } from './flags';

/** What DEV_STATUS (and most other replies) say about a device: the reply's header, with the
 *  flags word decoded. `uuid` is '' when the device has none; `targetCount` counts the live table's
 *  targets (the inactive one's when that was queried). */
export interface DeviceInfo extends DeviceHeader {
  /** The reply's flags word, decoded. */
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
