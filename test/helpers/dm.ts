// dm devices for integration tests. Every test device is named dmtest-<pid>-<tag>, so a sweep
// can find and remove leftovers of a crashed run without touching anyone else's devices.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../../src/dm';
import { recordFiles } from '../../src/records';

export const PREFIX = 'dmtest-';

export function testName(tag: string): string {
  return `${PREFIX}${process.pid}-${tag}`;
}

/** The geometry the kernel reports for a device's node (HDIO_GETGEO, read by python: node has no ioctl). */
export function geometryOf(name: string): { cylinders: number; heads: number; sectors: number; start: number } {
  const py = 'import fcntl,os,struct,sys,json\nfd=os.open(sys.argv[1],os.O_RDONLY)\nh,s,c,st=struct.unpack("@BBHL",fcntl.ioctl(fd,0x0301,bytes(struct.calcsize("@BBHL"))))\nprint(json.dumps(dict(cylinders=c,heads=h,sectors=s,start=st)))';
  const r = spawnSync('/usr/bin/python3', ['-c', py, dm.nodePath(name)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`HDIO_GETGEO on ${name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Resumes (so no I/O stays queued) and removes one device; true if it is gone. */
async function removeQuietly(name: string): Promise<boolean> {
  try {
    if (dm.infoSync(name).flags.suspended) await dm.resume(name, { node: false }).catch(() => undefined);
    await dm.remove(name); // retries EBUSY 25 x 200 ms: udev's probe of a device that reads EIO is slow
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'ENXIO';
  }
}

/**
 * Removes every dm device whose name starts with `prefix` (default: all test devices), devices
 * stacked on others first, and then their stale /dev/mapper nodes. Returns the names that could
 * not be removed (still open).
 */
export async function sweep(prefix = PREFIX): Promise<string[]> {
  let left = dm.listDevicesSync().filter((d) => d.name.startsWith(prefix)).map((d) => d.name);
  // A device under another one is busy until its holder is gone: go round while that helps.
  for (let progress = true; left.length && progress; ) {
    const before = left.length;
    for (const name of left) await removeQuietly(name);
    left = dm.listDevicesSync().filter((d) => d.name.startsWith(prefix)).map((d) => d.name);
    progress = left.length < before;
  }
  const live = new Set(left);
  for (const entry of fs.existsSync(dm.MAPPER_DIR) ? fs.readdirSync(dm.MAPPER_DIR) : [])
    if (entry.startsWith(prefix) && !live.has(entry)) fs.rmSync(dm.nodePath(entry), { force: true });
  // The durable records of the devices gone: a later test reuses their names.
  for (const file of recordFiles()) {
    const name = path.basename(file, '.json');
    if (name.startsWith(prefix) && !live.has(name)) fs.rmSync(file, { force: true });
  }
  return left;
}
