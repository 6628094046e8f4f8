// udev flags, passed as libdevmapper passes them: in the upper 16 bits of event_nr on every RESUME,
// REMOVE and RENAME. The kernel hands event_nr to udev as DM_COOKIE with the change/remove event,
// and the dm rules (55-dm.rules) import the flags with `dmsetup udevflags`. The lower 16 bits (the
// semaphore of libdevmapper's full synchronisation) stay 0: `dmsetup udevcomplete` then has
// nothing to release ("flags to control udev rules only"), so there is nothing to leak when a
// process dies and nothing to wait on forever; nodes.ts waits, bounded, for what udev makes.
import fs from 'node:fs';
import net from 'node:net';
import type { Address } from './device';
import { DmFlag } from './flags';
import { infoSync } from './query';

/** DM_UDEV_* flags (libdevmapper.h); the upper byte is left to subsystems (LVM, cryptsetup). */
export const UdevFlag = {
  /** No /dev/mapper/<name> link from udev. */
  DISABLE_DM_RULES: 0x01,
  DISABLE_SUBSYSTEM_RULES: 0x02,
  /** No /dev/disk/by-* links, no blkid probe, no inotify watch. */
  DISABLE_DISK_RULES: 0x04,
  /** Rules of other packages (systemd, mdadm, multipath …) leave the device alone. */
  DISABLE_OTHER_RULES: 0x08,
  /** /dev/disk links of priority -100: a device with the same filesystem UUID wins the link. */
  LOW_PRIORITY: 0x10,
  DISABLE_LIBRARY_FALLBACK: 0x20,
  /** A real change made by a dm library: without it a change event takes the flags of the udev
   *  db, which after a cookie-less create say "no disk rules". */
  PRIMARY_SOURCE: 0x40,
} as const;

const SHIFT = 16;

/**
 * What udev should make of a device: `user` (a device the user works with: /dev/mapper and
 * /dev/disk links, as dmsetup's), `hidden` (internal: /dev/mapper only, no probe, no disk links),
 * `snapshot` (a point-in-time copy: disk links of low priority, so the origin keeps them).
 */
export type UdevKind = 'user' | 'hidden' | 'snapshot';

/** A kind, or raw DM_UDEV_* flags (0 … 0xffff). */
export type UdevChoice = UdevKind | number;

const KIND_FLAGS: Record<UdevKind, number> = {
  user: UdevFlag.PRIMARY_SOURCE,
  hidden: UdevFlag.PRIMARY_SOURCE | UdevFlag.DISABLE_SUBSYSTEM_RULES | UdevFlag.DISABLE_DISK_RULES | UdevFlag.DISABLE_OTHER_RULES,
  snapshot: UdevFlag.PRIMARY_SOURCE | UdevFlag.LOW_PRIORITY,
};

type Classifier = (uuid: string) => UdevKind | undefined;
let classifier: Classifier | undefined;

/** Decides the kind of a device by its dm uuid when a call does not say (default: `user`). The
 *  operations layer registers one that knows its hidden devices. */
export function setUdevClassifier(fn: Classifier | undefined): void {
  classifier = fn;
}

/**
 * The udev kind devmapper gives a device with this dm uuid when a call does not choose one (default `user`).
 */
export function udevKindOf(uuid: string): UdevKind {
  return classifier?.(uuid) ?? 'user';
}

export function checkUdevChoice(v: unknown): UdevChoice | undefined {
  if (v === undefined || v === 'user' || v === 'hidden' || v === 'snapshot') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError('udev flags must be an integer 0 … 0xffff');
    return v;
  }
  throw new TypeError("udev must be 'user', 'hidden', 'snapshot' or DM_UDEV_* flags");
}

function kindOf(a: Address): UdevKind {
  if (a.fields.uuid !== undefined) return udevKindOf(a.fields.uuid);
  if (!classifier) return 'user';
  try {
    return udevKindOf(infoSync(a.fields.name ?? { major: a.fields.major!, minor: a.fields.minor! }).uuid);
  } catch {
    return 'user'; // no such device: the ioctl itself says so
  }
}

/** The udev part of event_nr for a RESUME, REMOVE or RENAME of the device. */
export async function udevCookie(a: Address, choice?: UdevChoice): Promise<number> {
  let flags = typeof choice === 'number' ? choice : KIND_FLAGS[choice ?? kindOf(a)];
  // As libdevmapper without udev: its rules (should udev start later) must not make the nodes
  // we make ourselves.
  if (!(await udevRunningCached())) flags |= UdevFlag.DISABLE_DM_RULES | UdevFlag.DISABLE_SUBSYSTEM_RULES;
  return ((flags << SHIFT) >>> 0);
}

/** True when the cookie has udev's dm rules make /dev/mapper/<name> (udev is alive). */
export function udevLinksName(cookie: number): boolean {
  return cookie !== 0 && ((cookie >>> SHIFT) & UdevFlag.DISABLE_DM_RULES) === 0;
}

/** True when udev makes /dev/mapper/<name> for this call: it sent a uevent and the rules run. */
export function udevMakesNode(cookie: number, replyFlags: number): boolean {
  return (replyFlags & DmFlag.UEVENT_GENERATED) !== 0 && udevLinksName(cookie);
}

const CONTROL = '/run/udev/control';

/**
 * Whether systemd-udevd runs: its control socket exists and someone listens on it. A udevd that
 * died leaves the socket file behind (connect: ECONNREFUSED); a live one refuses our stream
 * connection to its seqpacket socket (EPROTOTYPE) without ever seeing it.
 */
export function udevRunning(): Promise<boolean> {
  if (!fs.existsSync(CONTROL)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = net.connect(CONTROL);
    const done = (alive: boolean): void => {
      s.destroy();
      resolve(alive);
    };
    s.once('connect', () => done(true));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}

// Flags are decided per call; asking the socket at most once a second keeps a suspend/resume
// cycle cheap. Only "alive" is kept: a udev that starts is seen at once, and one that dies is
// noticed by the waits (nodes.ts), which ask afresh and then forget this.
const CACHE_MS = 1000;
let aliveAt: number | undefined;

export async function udevRunningCached(): Promise<boolean> {
  if (aliveAt !== undefined && Date.now() - aliveAt < CACHE_MS) return true;
  const alive = await udevRunning();
  aliveAt = alive ? Date.now() : undefined;
  return alive;
}

export function forgetUdevState(): void {
  aliveAt = undefined;
}
