// Device references: what users write (a path, "major:minor", {major, minor}) versus what the
// kernel wants and echoes back (always "major:minor").
import fs from 'node:fs';
import path from 'node:path';

/** A device number (dev_t) as major and minor. */
export interface DevNum {
  major: number;
  minor: number;
}

/** A path (`/dev/loop0`, `/dev/mapper/x`), `"7:0"`, or `{ major, minor }`. */
export type DevRef = string | DevNum;

const DEVNUM_RE = /^(\d+):(\d+)$/;

/** Parses `"M:m"`; undefined if the text is not a device number. */
export function parseDevNum(text: string): DevNum | undefined {
  const m = DEVNUM_RE.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  // The kernel's dev_t has 12 bits of major and 20 of minor.
  if (major > 0xfff || minor > 0xfffff) return undefined;
  return { major, minor };
}

/** Formats a device number as `"M:m"`. */
export function formatDevNum(d: DevNum): string {
  return `${d.major}:${d.minor}`;
}

function checkDevNum(d: DevNum): DevNum {
  const ok = (n: unknown, max: number) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
  if (!ok(d.major, 0xfff) || !ok(d.minor, 0xfffff)) {
    throw new RangeError(`not a device number: ${JSON.stringify({ major: d.major, minor: d.minor })}`);
  }
  return { major: d.major, minor: d.minor };
}

/** glibc's dev_t layout (gnu_dev_major/minor): 64 bits with major and minor each split in two. */
export function decodeDev(dev: bigint | number): DevNum {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { major, minor };
}

/** glibc's dev_t layout of a device number (the inverse of decodeDev). */
export function encodeDev({ major, minor }: DevNum): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** Stat seam so device resolution can be unit-tested without device nodes. */
export interface DevStat {
  (p: string): {
    /** The device number the path's node is for. */
    rdev: bigint;
    /** Whether the path is a block device node. */
    isBlockDevice(): boolean;
  };
}

const defaultStat: DevStat = (p) => fs.statSync(p, { bigint: true });

/** A reference's major:minor. Paths are stat'ed (this touches the filesystem, never the kernel's dm). */
export function resolveDevRef(ref: DevRef, stat: DevStat = defaultStat): DevNum {
  if (typeof ref === 'object' && ref !== null) return checkDevNum(ref);
  if (typeof ref !== 'string' || ref === '') throw new TypeError('a device reference is a path, "major:minor" or { major, minor }');
  const num = parseDevNum(ref);
  if (num) return num;
  if (DEVNUM_RE.test(ref)) throw new RangeError(`not a device number: ${ref}`);
  const st = stat(ref);
  if (!st.isBlockDevice()) throw new TypeError(`not a block device: ${ref}`);
  return decodeDev(st.rdev);
}

/** The canonical spelling of a reference: "major:minor". */
export function devRefToString(ref: DevRef, stat?: DevStat): string {
  return formatDevNum(resolveDevRef(ref, stat));
}

/** How a reference is spelled without touching the filesystem: objects become "M:m", strings stay. */
export function devRefKey(ref: DevRef): string {
  return typeof ref === 'string' ? ref : formatDevNum(checkDevNum(ref));
}

/** Options of devPath(). */
export interface DevPathOptions {
  /** Where sysfs is mounted (tests point it at a fixture tree). */
  sysfs?: string;
  dev?: string;
}

function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The /dev path of a block device: /dev/mapper/<name> for device-mapper devices (their /dev/dm-N
 * name is not stable across reboots), else /dev/<DEVNAME> from uevent. undefined if sysfs does not know it.
 */
export function devPath(major: number, minor: number, opts: DevPathOptions = {}): string | undefined {
  checkDevNum({ major, minor });
  const base = path.join(opts.sysfs ?? '/sys', 'dev', 'block', `${major}:${minor}`);
  const dev = opts.dev ?? '/dev';
  const dmName = readTrimmed(path.join(base, 'dm', 'name'));
  if (dmName) return path.join(dev, 'mapper', dmName);
  const uevent = readTrimmed(path.join(base, 'uevent'));
  const name = uevent?.split('\n').find((l) => l.startsWith('DEVNAME='))?.slice('DEVNAME='.length);
  return name ? path.join(dev, name) : undefined;
}
