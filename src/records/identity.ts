// A block device named so that it can be found again after a reboot: device numbers change (loop
// devices are numbered as they are attached, dm devices as they are created, disks as they are
// probed), so a record names a loop device by its backing file and offset, a dm device by its
// uuid and name, a disk by its /dev/disk/by-id name, a partition by its partition uuid or by its
// number on its disk's identity; each with its size, checked when it is found again.
import fs from 'node:fs';
import path from 'node:path';
import { formatDevNum, parseDevNum, type DevNum } from '../table';
import { listDir, readTrimmed } from '../sysfs';

export type DeviceIdentity =
  | { kind: 'loop'; file: string; offset: string; sizeLimit: string; sectors: string }
  | { kind: 'dm'; name: string; uuid?: string; sectors: string }
  | { kind: 'disk'; byId: string; sectors: string }
  | { kind: 'partition'; partUuid?: string; disk?: DeviceIdentity; number: number; sectors: string };

/** Where to read the kernel's and udev's view (tests point these at a tree of their own). */
export interface Roots {
  sys?: string;
  dev?: string;
}

const read = readTrimmed;
const list = (dir: string): string[] => listDir(dir).sort();

/** The device cannot be named stably (or found again): why, in words. */
export class IdentityError extends Error {
  override name = 'IdentityError';
}

const sysDev = (sys: string, n: DevNum): string => path.join(sys, 'dev', 'block', formatDevNum(n));

/** The links in /dev/disk/<dir> that point at kernel device `kname`, by name. */
function linksTo(dev: string, dir: string, kname: string): string[] {
  const d = path.join(dev, 'disk', dir);
  return list(d).filter((l) => {
    try {
      return path.basename(fs.readlinkSync(path.join(d, l))) === kname;
    } catch {
      return false;
    }
  });
}

// Names made from what a disk reports about itself come first; dm- and md- names copy a uuid
// that is already in the dm identity, and lvm-pv- names change with the PV.
const BY_ID_RANK = [/^wwn-/, /^nvme-eui\./, /^nvme-/, /^scsi-/, /^ata-/, /^usb-/, /^virtio-/, /^mmc-/, /^/];
const rank = (n: string): number => BY_ID_RANK.findIndex((r) => r.test(n));

/** The stable identity of the block device `num`. Throws IdentityError when it has none. */
export function identify(num: DevNum, roots: Roots = {}): DeviceIdentity {
  const sys = roots.sys ?? '/sys';
  const dev = roots.dev ?? '/dev';
  const at = sysDev(sys, num);
  const sectors = read(path.join(at, 'size'));
  if (sectors === undefined) throw new IdentityError(`no block device ${formatDevNum(num)}`);
  const kname = path.basename(fs.realpathSync(at));
  const partition = read(path.join(at, 'partition'));
  if (partition !== undefined) {
    const partUuid = linksTo(dev, 'by-partuuid', kname)[0];
    const parent = path.basename(path.dirname(fs.realpathSync(at)));
    const parentNum = parseDevNum(read(path.join(sys, 'class', 'block', parent, 'dev')) ?? '');
    let disk: DeviceIdentity | undefined;
    if (!partUuid) {
      if (!parentNum) throw new IdentityError(`partition ${kname}: no partition uuid and no disk found`);
      disk = identify(parentNum, roots);
    }
    return { kind: 'partition', ...(partUuid ? { partUuid } : {}), ...(disk ? { disk } : {}), number: Number(partition), sectors };
  }
  if (/^loop\d+$/.test(kname)) {
    const file = read(path.join(at, 'loop', 'backing_file'));
    if (!file) throw new IdentityError(`${kname} has no backing file`);
    if (file.endsWith(' (deleted)')) throw new IdentityError(`${kname}'s backing file ${file} is deleted: nothing could attach it again`);
    return { kind: 'loop', file, offset: read(path.join(at, 'loop', 'offset')) ?? '0', sizeLimit: read(path.join(at, 'loop', 'sizelimit')) ?? '0', sectors };
  }
  const name = read(path.join(at, 'dm', 'name'));
  if (name !== undefined) {
    const uuid = read(path.join(at, 'dm', 'uuid'));
    return { kind: 'dm', name, ...(uuid ? { uuid } : {}), sectors };
  }
  const ids = linksTo(dev, 'by-id', kname).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  if (!ids.length) throw new IdentityError(`${kname} has no /dev/disk/by-id name to find it by after a reboot`);
  return { kind: 'disk', byId: ids[0], sectors };
}

/** Where an identity is now: its device number, or why it cannot be found. Attaches nothing. */
export function locate(id: DeviceIdentity, roots: Roots = {}): { num: DevNum } | { missing: string } {
  const sys = roots.sys ?? '/sys';
  const dev = roots.dev ?? '/dev';
  const sized = (num: DevNum | undefined, what: string): { num: DevNum } | { missing: string } => {
    if (!num) return { missing: `${what} is not there` };
    const sectors = read(path.join(sysDev(sys, num), 'size'));
    if (sectors !== id.sectors) return { missing: `${what} (${formatDevNum(num)}) has ${sectors} sectors, the record says ${id.sectors}` };
    return { num };
  };
  const devOf = (kname: string): DevNum | undefined => parseDevNum(read(path.join(sys, 'class', 'block', kname, 'dev')) ?? '');
  const linked = (dir: string, name: string): DevNum | undefined => {
    try {
      return devOf(path.basename(fs.readlinkSync(path.join(dev, 'disk', dir, name))));
    } catch {
      return undefined;
    }
  };
  switch (id.kind) {
    case 'loop': {
      const at = list(path.join(sys, 'block')).filter((n) => /^loop\d+$/.test(n)).find((n) =>
        read(path.join(sys, 'block', n, 'loop', 'backing_file')) === id.file
        && (read(path.join(sys, 'block', n, 'loop', 'offset')) ?? '0') === id.offset
        && (read(path.join(sys, 'block', n, 'loop', 'sizelimit')) ?? '0') === id.sizeLimit);
      return sized(at ? devOf(at) : undefined, `a loop device on ${id.file} at offset ${id.offset}`);
    }
    case 'dm': {
      const dms = list(path.join(sys, 'block')).filter((n) => /^dm-\d+$/.test(n));
      const at = dms.find((n) => id.uuid !== undefined && read(path.join(sys, 'block', n, 'dm', 'uuid')) === id.uuid)
        ?? dms.find((n) => id.uuid === undefined && read(path.join(sys, 'block', n, 'dm', 'name')) === id.name);
      return sized(at ? devOf(at) : undefined, `dm device ${id.name}${id.uuid ? ` (uuid ${id.uuid})` : ''}`);
    }
    case 'disk':
      return sized(linked('by-id', id.byId), `disk ${id.byId}`);
    case 'partition': {
      if (id.partUuid) return sized(linked('by-partuuid', id.partUuid), `partition ${id.partUuid}`);
      const disk = id.disk ? locate(id.disk, roots) : { missing: 'no disk recorded' };
      if ('missing' in disk) return { missing: `partition ${id.number}: ${disk.missing}` };
      const parent = path.basename(fs.realpathSync(sysDev(sys, disk.num)));
      const part = list(path.join(sys, 'class', 'block')).find((n) => n.startsWith(parent) && n !== parent
        && read(path.join(sys, 'class', 'block', n, 'partition')) === String(id.number)
        && path.basename(path.dirname(fs.realpathSync(path.join(sys, 'class', 'block', n)))) === parent);
      return sized(part ? devOf(part) : undefined, `partition ${id.number} of ${parent}`);
    }
  }
}

/** One line naming an identity, for messages. */
export function describeIdentity(id: DeviceIdentity): string {
  switch (id.kind) {
    case 'loop': return `loop device on ${id.file}${id.offset !== '0' ? ` at offset ${id.offset}` : ''}`;
    case 'dm': return `dm device ${id.name}`;
    case 'disk': return `/dev/disk/by-id/${id.byId}`;
    case 'partition': return id.partUuid ? `/dev/disk/by-partuuid/${id.partUuid}` : `partition ${id.number} of ${id.disk ? describeIdentity(id.disk) : '?'}`;
  }
}
