// Hidden devices carry names and uuids that say what they are, so the kernel's device list alone
// tells a later process what an earlier one set up:
//   base of V:    name `<V>-dmbase`, uuid `DEVMAPPER-BASE-<V>`  (V's original table, under a snapshot)
//   snapshot S:   name S (the user's),  uuid `DEVMAPPER-SNAP-<S>`
import { setUdevClassifier } from '../dm/udev';
import { checkName } from '../dm/validate';

export const BASE_SUFFIX = '-dmbase';
export const BASE_UUID_PREFIX = 'DEVMAPPER-BASE-';
export const SNAP_UUID_PREFIX = 'DEVMAPPER-SNAP-';
/** Longest device name the scheme can carry in a 128-byte uuid. */
export const MAX_OPS_NAME_BYTES = 128 - BASE_UUID_PREFIX.length;

/** A device name the operations accept: a valid dm name short enough for the hidden names. */
export function checkOpsName(v: unknown, what = 'device name'): string {
  const s = checkName(v, what);
  if (Buffer.byteLength(s) > MAX_OPS_NAME_BYTES) throw new RangeError(`${what} must be at most ${MAX_OPS_NAME_BYTES} bytes for live operations`);
  return s;
}

export const baseName = (v: string): string => `${v}${BASE_SUFFIX}`;
export const baseUuid = (v: string): string => `${BASE_UUID_PREFIX}${v}`;
export const snapUuid = (s: string): string => `${SNAP_UUID_PREFIX}${s}`;

/** The device a base belongs to, from the base's uuid; undefined if it is not a base. */
export function baseOwner(uuid: string | undefined): string | undefined {
  return uuid?.startsWith(BASE_UUID_PREFIX) ? uuid.slice(BASE_UUID_PREFIX.length) : undefined;
}

export function isSnapUuid(uuid: string | undefined): boolean {
  return !!uuid?.startsWith(SNAP_UUID_PREFIX);
}

// What udev makes of our devices: a base holds the volume's filesystem (same UUID) and must never
// take its /dev/disk links, so it gets none and is not probed; a snapshot gets links of low priority.
setUdevClassifier((uuid) => (uuid.startsWith(BASE_UUID_PREFIX) ? 'hidden' : uuid.startsWith(SNAP_UUID_PREFIX) ? 'snapshot' : undefined));
