// /dev/mapper/<name> nodes. The kernel makes only /dev/dm-N; the friendly name is userspace's
// job. Where udev runs, its dm rules make and remove the node on the uevents that RESUME, RENAME
// and REMOVE send, so we give it a bounded moment and then do it ourselves. Where no udev runs,
// we mknod/unlink right away, as libdevmapper does.
//
// We use no udev cookies at all: a cookie is a SysV semaphore that only a udev rule releases, so
// a crashed caller leaks it and a missing udev (or a reply without DM_UEVENT_GENERATED_FLAG)
// leaves the waiter hanging. Watching the node itself has nothing to leak and nothing to hang on.
import fs from 'node:fs';
import path from 'node:path';
import { fromNative } from '../errors';
import { native } from '../native';
import { sleep } from './call';

export const MAPPER_DIR = '/dev/mapper';
const UDEV_WAIT_MS = 1000;
const POLL_MS = 10;

export function nodePath(name: string): string {
  return path.join(MAPPER_DIR, name);
}

export function udevRunning(): boolean {
  return fs.existsSync('/run/udev/control');
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
    return fs.existsSync(p) || isLink(p) ? 'other' : 'none';
  }
  const d = rdevOf(st.rdev);
  return st.isBlockDevice() && d.major === major && d.minor === minor ? 'ours' : 'other';
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

async function waitFor(done: () => boolean): Promise<boolean> {
  for (let t = 0; t < UDEV_WAIT_MS; t += POLL_MS) {
    if (done()) return true;
    await sleep(POLL_MS);
  }
  return done();
}

function unlinkQuiet(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Makes /dev/mapper/<name> point at major:minor. `uevent`: the kernel told udev about it. */
export async function ensureNode(name: string, major: number, minor: number, uevent: boolean): Promise<void> {
  const p = nodePath(name);
  if (probe(p, major, minor) === 'ours') return;
  if (uevent && udevRunning() && (await waitFor(() => probe(p, major, minor) === 'ours'))) return;
  fs.mkdirSync(MAPPER_DIR, { recursive: true, mode: 0o755 });
  unlinkQuiet(p); // a stale node of an earlier device of that name
  try {
    native.mknodBlock(p, 0o600, major, minor);
  } catch (err) {
    throw fromNative(err, 'mknod', p);
  }
}

/** Removes /dev/mapper/<name> (after giving udev its chance when it was told). */
export async function dropNode(name: string, uevent: boolean): Promise<void> {
  const p = nodePath(name);
  const gone = (): boolean => !fs.existsSync(p) && !isLink(p);
  if (gone()) return;
  if (uevent && udevRunning() && (await waitFor(gone))) return;
  unlinkQuiet(p);
}
