// /dev/mapper/<name> nodes. The kernel makes only /dev/dm-N; the friendly name is userspace's job.
// Where udev runs, its dm rules make /dev/mapper/<name> (a symlink to ../dm-N) on the change event
// of a resume or rename that carries our flags (udev.ts), and remove it on the remove event: we
// wait for that, bounded, and make or remove the node ourselves only when udev is gone or did not
// answer in time, as a symlink to ../dm-N like udev's (udev replaces a symlink, never a node).
// A create sends no event that makes udev link the name (its add event has no cookie) and, on
// current kernels, the disk is registered only when a table loads: so create makes a node with
// mknod, and the resume that hands the name to udev removes that node first (yieldToUdev).
// Where no udev runs we mknod and unlink, as libdevmapper does.
import fs from 'node:fs';
import path from 'node:path';
import { fromNative } from '../errors';
import { native } from '../native';
import { sleep } from './call';
import { forgetUdevState, udevRunning } from './udev';

/** Where device-mapper device nodes live: /dev/mapper. */
export const MAPPER_DIR = '/dev/mapper';
/** How long udev gets to make or remove a node before we do it ourselves. Under load (software
 *  emulation, a long event queue) udev takes seconds; a dead udevd is noticed much sooner. */
const UDEV_WAIT_MS = 10_000;
const POLL_MS = 10;
const ALIVE_CHECK_MS = 250;

/** The device node path of a dm device: `/dev/mapper/<name>`. */
export function nodePath(name: string): string {
  return path.join(MAPPER_DIR, name);
}

/** glibc's major()/minor() for a stat rdev. */
function rdevOf(rdev: number): { major: number; minor: number } {
  const d = BigInt(rdev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

/** What is at the path now: the node we want, something else, or nothing. */
function probe(p: string, major: number, minor: number): 'ours' | 'other' | 'none' {
  let st: fs.Stats;
  try {
    st = fs.statSync(p); // follows udev's symlink to ../dm-N
  } catch {
    return present(p) ? 'other' : 'none';
  }
  const d = rdevOf(st.rdev);
  return st.isBlockDevice() && d.major === major && d.minor === minor ? 'ours' : 'other';
}

/** Something at the path, even a dangling symlink. */
function present(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Polls `done` until it holds, udev is seen dead, or UDEV_WAIT_MS pass; true if it held. */
async function waitForUdev(done: () => boolean): Promise<boolean> {
  const end = Date.now() + UDEV_WAIT_MS;
  let nextCheck = Date.now() + ALIVE_CHECK_MS;
  while (!done()) {
    if (Date.now() >= end) return false;
    if (Date.now() >= nextCheck) {
      if (!(await udevRunning())) {
        forgetUdevState();
        return done();
      }
      nextCheck = Date.now() + ALIVE_CHECK_MS;
    }
    await sleep(POLL_MS);
  }
  return true;
}

/** Whether udev's database says udev made /dev/mapper/<name> for the device (and so will remove it). */
function udevOwns(dev: { major: number; minor: number }, name: string): boolean {
  try {
    return fs.readFileSync(`/run/udev/data/b${dev.major}:${dev.minor}`, 'utf8').split('\n').includes(`S:mapper/${name}`);
  } catch {
    return false;
  }
}

function unlinkQuiet(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The kernel's name of the disk (dm-N), when devtmpfs shows it under /dev. */
function kernelDisk(major: number, minor: number): string | undefined {
  try {
    const disk = path.basename(fs.realpathSync(`/sys/dev/block/${major}:${minor}`));
    return fs.existsSync(path.join('/dev', disk)) ? disk : undefined;
  } catch {
    return undefined;
  }
}

async function makeNode(p: string, major: number, minor: number): Promise<void> {
  fs.mkdirSync(MAPPER_DIR, { recursive: true, mode: 0o755 });
  const disk = (await udevRunning()) ? kernelDisk(major, minor) : undefined;
  for (let attempt = 1; ; attempt++) {
    unlinkQuiet(p); // a stale node of an earlier device of that name
    try {
      if (disk) fs.symlinkSync(`../${disk}`, p);
      else native.mknodBlock(p, 0o600, major, minor);
      return;
    } catch (err) {
      // udev made it between our unlink and here: fine if it is the right one.
      const exists = (err as { code?: string }).code === 'EEXIST';
      if (exists && probe(p, major, minor) === 'ours') return;
      if (!exists || attempt === 2) throw disk ? err : fromNative(err, 'mknod', p);
    }
  }
}

/** Before a resume or rename that has udev link /dev/mapper/<name>: a block node there is ours
 *  (udev makes symlinks), and udev would refuse to replace it ("conflicting inode"). */
export function yieldToUdev(name: string): boolean {
  const p = nodePath(name);
  try {
    if (!fs.lstatSync(p).isBlockDevice()) return false;
    fs.unlinkSync(p);
    return true;
  } catch {
    return false; // nothing there
  }
}

/**
 * Makes /dev/mapper/<name> point at major:minor. `byUdev`: udev was told to make it (udev.ts);
 * then we wait until udev's database lists the link, which it writes once it has run every rule
 * for the event (blkid included): a device's first resume returns when udev is done with it, as
 * dmsetup's does, and a remove right after meets no probe.
 */
export async function ensureNode(name: string, major: number, minor: number, byUdev: boolean): Promise<void> {
  const p = nodePath(name);
  const ok = (): boolean => probe(p, major, minor) === 'ours';
  if (byUdev && (await waitForUdev(() => ok() && udevOwns({ major, minor }, name)))) return;
  if (!ok()) await makeNode(p, major, minor);
}

/**
 * Removes /dev/mapper/<name>. `byUdev`: udev was told (remove or rename event); then a link
 * udev made is left to udev until its database no longer lists it, and anything left after that
 * (or never udev's) is unlinked here.
 */
export async function dropNode(name: string, dev: { major: number; minor: number } | undefined, byUdev: boolean): Promise<void> {
  const p = nodePath(name);
  if (!present(p)) return;
  if (byUdev && dev) await waitForUdev(() => !present(p) || !udevOwns(dev, name));
  unlinkQuiet(p);
}
