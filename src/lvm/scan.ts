// The LVM2 side of the machine's block devices: which carry a PV label, what their metadata says,
// and so which VGs exist and where each PV is now. Reads only; never opens a device for writing.
import fs from 'node:fs';
import path from 'node:path';
import { listDir, readTrimmed } from '../sysfs';
import { decodeDev } from '../table';
import { LvmError } from './errors';
import { type PhysicalVolumeScan, volumeGroupsFrom, scanPhysicalVolume } from './metadata';
import type { VolumeGroup } from './model';

/** A block device found to hold an LVM2 PV. */
export interface PvDeviceFound extends PhysicalVolumeScan {
  /** The block device read. */
  path: string;
  major: number;
  minor: number;
  /** Sectors, as the kernel says now (not as the label recorded). */
  sectors: bigint;
  /** A device-mapper device (a PV seen through a mapping as well as on its disk). */
  dm: boolean;
}

/** What scanLvm found: PVs, the VGs they make up, and what could not be read. */
export interface LvmScan {
  pvs: PvDeviceFound[];
  vgs: VolumeGroup[];
  /** What could not be read or parsed, with where; the rest of the scan still stands. */
  errors: LvmError[];
}

interface Candidate {
  path: string;
  sysfs: string;
}

/** Block devices LVM2 would scan by default: not empty, not an LV (scan_lvs=0), not suspended. */
function machineCandidates(): Candidate[] {
  const out: Candidate[] = [];
  for (const name of listDir('/sys/class/block').sort()) {
    const sysfs = `/sys/class/block/${name}`;
    if (/^(fd|sr)\d/.test(name) || readTrimmed(`${sysfs}/size`) === '0') continue;
    // Reading a suspended device would block until it is resumed.
    if (readTrimmed(`${sysfs}/dm/suspended`) === '1' || (readTrimmed(`${sysfs}/dm/uuid`) ?? '').startsWith('LVM-')) continue;
    const dev = `/dev/${name}`;
    if (fs.existsSync(dev)) out.push({ path: dev, sysfs });
  }
  return out;
}

function givenCandidate(p: string): Candidate {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new LvmError('NO_DEVICE', p, `no such device: ${p}`);
  }
  if (!st.isBlockDevice()) throw new LvmError('NO_DEVICE', p, `${p} is not a block device`);
  const { major, minor } = decodeDev(st.rdev);
  return { path: p, sysfs: `/sys/dev/block/${major}:${minor}` };
}

function readDevice(c: Candidate): PvDeviceFound | undefined {
  const fd = fs.openSync(c.path, 'r');
  try {
    const st = fs.fstatSync(fd);
    const { major, minor } = decodeDev(st.rdev);
    const sectors = BigInt(readTrimmed(`${c.sysfs}/size`) ?? '0');
    const read = (offset: bigint, length: number): Buffer => {
      const end = sectors * 512n;
      const n = offset >= end ? 0 : Number(end - offset < BigInt(length) ? end - offset : BigInt(length));
      const b = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const r = fs.readSync(fd, b, got, n - got, offset + BigInt(got));
        if (r === 0) break;
        got += r;
      }
      return b.subarray(0, got);
    };
    const pv = scanPhysicalVolume(read);
    if (!pv) return undefined;
    return { ...pv, path: c.path, major, minor, sectors, dm: fs.existsSync(`${c.sysfs}/dm`) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Scans `devices` (block device paths), or every block device of the machine, for PVs, and puts
 * the VGs together from their metadata: the newest copy of each VG wins, as in LVM2. A device that
 * cannot be read or a copy that does not parse is reported in `errors`, naming it and where.
 */
export function scanLvm(devices?: readonly string[]): LvmScan {
  const candidates = devices?.length ? devices.map(givenCandidate) : machineCandidates();
  const pvs: PvDeviceFound[] = [];
  const errors: LvmError[] = [];
  for (const c of candidates) {
    try {
      const found = readDevice(c);
      if (found) {
        pvs.push(found);
        errors.push(...found.errors.map((e) => e.within(c.path)));
      }
    } catch (e) {
      if (e instanceof LvmError) errors.push(e.within(c.path));
      // Given devices must be readable; a machine scan passes over what it may not open (EACCES, ENOMEDIUM).
      else if (devices?.length) throw e;
    }
  }
  const vgs = volumeGroupsFrom(pvs.flatMap((p) => p.metadata.map((m) => ({ ...m, where: `${p.path} ${m.where}` }))), {
    onError: (e, source) => errors.push(e.within(source)),
  });
  return { pvs, vgs, errors };
}

/** The device of each PV id: a disk rather than a mapping over it when both carry the label. */
export function pvDevices(scan: LvmScan): Map<string, PvDeviceFound> {
  const byId = new Map<string, PvDeviceFound>();
  for (const p of scan.pvs) {
    const held = byId.get(p.label.pvId);
    if (!held || (held.dm && !p.dm)) byId.set(p.label.pvId, p);
  }
  return byId;
}

/** The one VG of that name, or a typed refusal (none, or two VGs with the same name). */
export function findVolumeGroup(scan: LvmScan, name: string): VolumeGroup {
  const found = scan.vgs.filter((v) => v.name === name);
  if (found.length > 1) {
    throw new LvmError('DUPLICATE', name, `two VGs are named ${name} (${found.map((v) => v.uuid).join(', ')}); give the devices of one of them`);
  }
  if (!found.length && scan.errors.length) {
    // The VG may be on the PVs whose metadata could not be read: say what is wrong with them.
    const first = scan.errors[0]!;
    throw new LvmError(first.code, first.where, `no readable metadata names VG ${name}; ${scan.errors.map((e) => e.message).join('; ')}`);
  }
  if (!found.length) {
    const seen = scan.vgs.map((v) => v.name);
    throw new LvmError('NO_VG', name, `no VG named ${name} on ${scan.pvs.length ? `the PVs found (${scan.pvs.map((p) => path.basename(p.path)).join(', ')})` : 'any device (no PV found)'}${seen.length ? `; VGs found: ${seen.join(', ')}` : ''}`);
  }
  return found[0]!;
}
