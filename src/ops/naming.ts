// Hidden devices carry names and uuids that say what they are, so the kernel's device list alone
// tells a later process what an earlier one set up:
//   base of V:    name `<V>-dmbase`, uuid `DEVMAPPER-BASE-<nonce>-<V>`  (V's original table, under a snapshot)
//   snapshot S:   name S (the user's),  uuid `DEVMAPPER-SNAP-<nonce>-<S>`
//   migration of V: `<V>-dmold` (V's original table), uuid `DEVMAPPER-OLD-<nonce>-<V>`, and the
//                 mirror `<V>-dmmove` over it and the new disk, uuid `DEVMAPPER-MOVE-<nonce>-<V>`
// The nonce is the creating operation's own (random, 12 hex digits): a rollback removes a device
// only when its uuid carries the rollback's nonce, never one another process made under the same
// name. Uuids without a nonce (made by earlier versions) are still recognised.
import { randomBytes } from 'node:crypto';
import { setUdevClassifier } from '../dm';
import { checkName } from '../dm/validate';

export const BASE_SUFFIX = '-dmbase';
export const BASE_UUID_PREFIX = 'DEVMAPPER-BASE-';
export const SNAP_UUID_PREFIX = 'DEVMAPPER-SNAP-';
export const OLD_UUID_PREFIX = 'DEVMAPPER-OLD-';
export const MOVE_UUID_PREFIX = 'DEVMAPPER-MOVE-';
const NONCE_HEX = 12;
const NONCE = new RegExp(`^[0-9a-f]{${NONCE_HEX}}-`);
/** Longest device name the scheme can carry in a 128-byte uuid. */
export const MAX_OPS_NAME_BYTES = 128 - BASE_UUID_PREFIX.length - NONCE_HEX - 1;

/** A device name the operations accept: a valid dm name short enough for the hidden names. */
export function checkOpsName(v: unknown, what = 'device name'): string {
  const s = checkName(v, what);
  if (Buffer.byteLength(s) > MAX_OPS_NAME_BYTES) throw new RangeError(`${what} must be at most ${MAX_OPS_NAME_BYTES} bytes for live operations`);
  return s;
}

/** A fresh nonce for one operation. */
export const newNonce = (): string => randomBytes(NONCE_HEX / 2).toString('hex');

export const baseName = (v: string): string => `${v}${BASE_SUFFIX}`;
export const baseUuid = (v: string, nonce: string): string => `${BASE_UUID_PREFIX}${nonce}-${v}`;
export const snapUuid = (s: string, nonce: string): string => `${SNAP_UUID_PREFIX}${nonce}-${s}`;
export const oldName = (v: string): string => `${v}-dmold`;
export const moveName = (v: string): string => `${v}-dmmove`;
export const oldUuid = (v: string, nonce: string): string => `${OLD_UUID_PREFIX}${nonce}-${v}`;
export const moveUuid = (v: string, nonce: string): string => `${MOVE_UUID_PREFIX}${nonce}-${v}`;

/** The device name and nonce a devmapper uuid of `prefix` carries. */
function parseUuid(uuid: string | undefined, prefix: string): { name: string; nonce?: string } | undefined {
  if (!uuid?.startsWith(prefix)) return undefined;
  const rest = uuid.slice(prefix.length);
  const m = NONCE.exec(rest);
  return m ? { name: rest.slice(m[0].length), nonce: m[0].slice(0, NONCE_HEX) } : { name: rest };
}

/** The device a base belongs to, from the base's uuid; undefined if it is not a base. */
export function baseOwner(uuid: string | undefined): string | undefined {
  return parseUuid(uuid, BASE_UUID_PREFIX)?.name;
}

/** The device a migration's hidden device (old table or mirror) belongs to; undefined if none. */
export function migrationOwner(uuid: string | undefined): string | undefined {
  return (parseUuid(uuid, MOVE_UUID_PREFIX) ?? parseUuid(uuid, OLD_UUID_PREFIX))?.name;
}

export function isMoveUuid(uuid: string | undefined): boolean {
  return !!uuid?.startsWith(MOVE_UUID_PREFIX);
}

export function isSnapUuid(uuid: string | undefined): boolean {
  return !!uuid?.startsWith(SNAP_UUID_PREFIX);
}

/** The nonce of the operation that made a devmapper device (undefined: none, or not ours). */
export function uuidNonce(uuid: string | undefined): string | undefined {
  return (parseUuid(uuid, BASE_UUID_PREFIX) ?? parseUuid(uuid, SNAP_UUID_PREFIX))?.nonce;
}

// What udev makes of our devices: a base (and a migration's old table and mirror) holds the volume's
// filesystem (same UUID) and must never take its /dev/disk links, so it gets none and is not
// probed; a snapshot gets links of low priority.
const HIDDEN = [BASE_UUID_PREFIX, OLD_UUID_PREFIX, MOVE_UUID_PREFIX];
setUdevClassifier((uuid) => (HIDDEN.some((p) => uuid.startsWith(p)) ? 'hidden' : uuid.startsWith(SNAP_UUID_PREFIX) ? 'snapshot' : undefined));
