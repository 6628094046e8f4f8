// The kernel side of LVM2 volumes: the devices `vgchange -ay` makes for a VG's linear and striped
// LVs (names, uuids, tables, read-only and persistent minors as the metadata says), and their
// removal. Made all together or not at all; LVs that cannot be mapped are refused one by one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as dm from '../dm';
import { LvmError } from './errors';
import { withVgLock, type VgLockOptions } from './lock';
import type { LogicalVolume, VolumeGroup } from './model';
import { findVolumeGroup, pvDevices, scanLvm, type LvmScan } from './scan';
import { activationPlan, type TableLine } from './tables';

/** Which LVs to activate and where to look for their PVs; how long to wait for LVM2's VG lock. */
export interface LvmSelection extends VgLockOptions {
  /** Only these LVs of the VG (default: all). */
  lvs?: readonly string[];
  /** Block devices to look for the PVs on (default: every block device). */
  devices?: readonly string[];
}

/** An LV mapped (or found already mapped) by activateVolumeGroup: its dm name, uuid and table. */
export interface LvMapped {
  lv: string;
  name: string;
  uuid: string;
  result: 'created' | 'kept';
  table: TableLine[];
  readOnly: boolean;
}

/** What activateVolumeGroup did with one LV: mapped, refused (with the error), or skipped. */
export type LvOutcome =
  | LvMapped
  | { lv: string; name: string; uuid: string; result: 'refused'; error: LvmError }
  | { lv: string; result: 'skipped'; reason: 'hidden' | 'activation-skip' };

/** What activateVolumeGroup did: the VG as read, each LV's outcome, and what could not be read. */
export interface ActivationReport {
  vg: VolumeGroup;
  lvs: LvOutcome[];
  /** Metadata copies or devices that could not be read; the VG was put together from the others. */
  notes: LvmError[];
}


/** What this host's LVM2 system ID can be (system_id_source uname or machineid). */
function localSystemIds(): string[] {
  let machineId: string | undefined;
  try {
    machineId = fs.readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    machineId = undefined;
  }
  return [os.hostname(), ...(machineId ? [machineId] : [])];
}

/** The LVs asked for, each known to the VG. */
function selected(vg: VolumeGroup, names: readonly string[] | undefined): LogicalVolume[] {
  if (!names?.length) return vg.lvs;
  return names.map((n) => {
    const lv = vg.lvs.find((l) => l.name === n);
    if (!lv) throw new LvmError('NO_VG', `${vg.name}/${n}`, `VG ${vg.name} has no LV named ${n} (it has ${vg.lvs.map((l) => l.name).join(', ') || 'none'})`);
    return lv;
  });
}

const sameTable = (live: dm.TargetLine[], want: TableLine[]): boolean =>
  live.length === want.length && live.every((t, i) => t.type === want[i]!.type && t.start === want[i]!.start && t.length === want[i]!.length && t.params === want[i]!.params);

/** /dev/VG/LV, as LVM2 makes it when udev's lvm rules do not. */
function linkOf(vg: string, lv: string): string {
  return path.join('/dev', vg, lv);
}

function addLink(vg: string, lv: string, name: string): void {
  const link = linkOf(vg, lv);
  try {
    const dir = path.dirname(link);
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) return;
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(link)) fs.symlinkSync(`../mapper/${name}`, link);
  } catch {
    // A read-only /dev or a name taken by something else: the /dev/mapper node is what counts.
  }
}

function dropLink(vg: string, lv: string, name: string): void {
  const link = linkOf(vg, lv);
  try {
    if (fs.readlinkSync(link) === `../mapper/${name}`) fs.unlinkSync(link);
    fs.rmdirSync(path.dirname(link));
  } catch {
    // Not ours, not there, or the directory still holds other LVs' links.
  }
}

/**
 * Makes the devices `vgchange -ay VG [LV...]` makes for linear and striped LVs, holding LVM2's
 * lock on the VG (see lock.ts) from the metadata read to the last device. An LV already active
 * with the same uuid and table is kept; one left half-made by a killed activation (its uuid, no
 * live table) is made again; a name or uuid held by another device refuses the whole call before
 * anything is made; a failure removes what this call made. LVs of other types, or on a missing PV
 * or past a PV's end, are refused one by one in the report (the others map). Never writes to a PV.
 */
export async function activateVolumeGroup(vgName: string, o: LvmSelection = {}): Promise<ActivationReport> {
  return withVgLock(vgName, o, () => activate(vgName, o));
}

async function activate(vgName: string, o: LvmSelection): Promise<ActivationReport> {
  const scan = scanLvm(o.devices);
  const vg = findVolumeGroup(scan, vgName);
  const want = new Set(selected(vg, o.lvs));
  const devices = pvDevices(scan);
  const plan = activationPlan(vg, (id) => {
    const d = devices.get(id);
    return d && `${d.major}:${d.minor}`;
  }, { pvSectors: (id) => devices.get(id)?.sectors, localSystemIds: localSystemIds() }).filter((a) => want.has(a.lv));
  const out: LvOutcome[] = [];
  const todo: LvMapped[] = [];
  for (const a of plan) {
    if (a.action === 'skip') {
      out.push({ lv: a.lv.name, result: 'skipped', reason: a.reason });
      continue;
    }
    if (a.action === 'refuse') {
      out.push({ lv: a.lv.name, name: a.name, uuid: a.uuid, result: 'refused', error: a.error });
      continue;
    }
    const readOnly = !a.lv.status.includes('WRITE');
    const there = dm.infoOrNone(a.name);
    const byUuid = there ? undefined : dm.infoOrNone({ uuid: a.uuid });
    if (byUuid) throw new LvmError('EXISTS', `${vg.name}/${a.lv.name}`, `LV ${a.lv.name} is active already as ${byUuid.name}: nothing was made`);
    const outcome = { lv: a.lv.name, name: a.name, uuid: a.uuid, table: a.table, readOnly };
    if (there && there.uuid === a.uuid && !there.flags.activePresent && there.openCount === 0) {
      // Made by an activation killed before its resume: nothing can have used it.
      await dm.remove(a.name, { retry: true });
      todo.push({ ...outcome, result: 'created' as const });
    } else if (!there) {
      todo.push({ ...outcome, result: 'created' as const });
    } else if (there.uuid === a.uuid && sameTable(dm.tableSync(a.name), a.table)) {
      out.push({ ...outcome, result: 'kept' as const });
    } else {
      throw new LvmError('EXISTS', `${vg.name}/${a.lv.name}`, `a device named ${a.name} exists and is not LV ${a.lv.name} of VG ${vg.name} as its metadata says: nothing was made`);
    }
  }
  await dm.createDevices(todo.map((t) => {
    const lv = vg.lvs.find((l) => l.name === t.lv)!;
    return { name: t.name, uuid: t.uuid, table: t.table, ...(t.readOnly ? { readOnly: true } : {}), ...(lv.minor !== undefined ? { minor: lv.minor } : {}) };
  }));
  for (const t of todo) addLink(vg.name, t.lv, t.name);
  out.push(...todo);
  const order = new Map(vg.lvs.map((l, i) => [l.name, i]));
  out.sort((a, b) => order.get(a.lv)! - order.get(b.lv)!);
  return { vg, lvs: out, notes: scan.errors };
}

/** What deactivateVolumeGroup did: the dm devices it removed. */
export interface DeactivationReport {
  vg: string;
  removed: string[];
}

/** LVM2's dm name back into VG and LV (`a--b-c` is VG `a-b`, LV `c`); undefined if not one. */
export function splitDmName(name: string): { vg: string; lv: string } | undefined {
  const m = /^((?:[^-]|--)+)-((?:[^-]|--)+)$/.exec(name);
  return m ? { vg: m[1]!.replace(/--/g, '-'), lv: m[2]!.replace(/--/g, '-') } : undefined;
}

/** Active devices of the VG: LVM- uuids of its id (layers too), or of its name when its PVs are gone. */
function activeOf(vgName: string, scan: LvmScan): { info: dm.DeviceInfo; lv: string }[] {
  const vg = scan.vgs.find((v) => v.name === vgName);
  const out: { info: dm.DeviceInfo; lv: string }[] = [];
  for (const d of dm.listDevicesSync()) {
    const info = dm.infoOrNone(d.name);
    const split = splitDmName(d.name) ?? splitDmName(d.name.replace(/-[a-z]+$/, ''));
    if (!info?.uuid.startsWith('LVM-') || !split) continue;
    const ours = vg ? info.uuid.startsWith(`LVM-${vg.id}`) : split.vg === vgName;
    if (ours) out.push({ info, lv: vg?.lvs.find((l) => info.uuid.startsWith(`LVM-${vg.id}${l.id}`))?.name ?? split.lv });
  }
  return out;
}

/**
 * Removes the VG's active LVs (or only those named), as `vgchange -an` does, holding LVM2's lock
 * on the VG: refused as a whole, nothing removed, while any of them is open or mounted.
 */
export async function deactivateVolumeGroup(vgName: string, o: LvmSelection = {}): Promise<DeactivationReport> {
  return withVgLock(vgName, o, () => deactivate(vgName, o));
}

async function deactivate(vgName: string, o: LvmSelection): Promise<DeactivationReport> {
  const scan = scanLvm(o.devices);
  const all = activeOf(vgName, scan);
  if (!all.length) findVolumeGroup(scan, vgName); // refuses a VG that is neither on disk nor active
  const active = all.filter((a) => !o.lvs?.length || o.lvs.includes(a.lv));
  const busy = [];
  for (const a of active) if ((await dm.settledOpenCount(a.info.name)) > 0) busy.push(a);
  if (busy.length) {
    throw new LvmError('BUSY', vgName, `${busy.map((b) => b.info.name).join(', ')} ${busy.length === 1 ? 'is' : 'are'} open or mounted: nothing was removed`);
  }
  // Layers (uuid suffixes such as -real, -cow) go after the LVs above them.
  active.sort((a, b) => Number(/-[a-z]+$/.test(a.info.uuid)) - Number(/-[a-z]+$/.test(b.info.uuid)));
  await dm.removeDevices(active.map((a) => a.info.name));
  for (const a of active) dropLink(vgName, a.lv, a.info.name);
  return { vg: vgName, removed: active.map((a) => a.info.name) };
}

/** What recoverActivations did with one device a killed activation left half-made. */
export interface HalfMadeReport {
  device: string;
  found: string;
  did: string[];
  state: 'gone' | 'refused';
  error?: string;
}

/**
 * After a killed `lvm activate`: removes every LVM device (an `LVM-` uuid) that has no live table
 * and no opener, the one the activation was making when it died, under its VG's LVM2 lock (so
 * never one that vgchange or a running dmctl is making). The LVs it had finished stay active, as a
 * vgchange that activated some of a VG's LVs leaves them; `lvm activate` again makes the rest.
 */
export async function recoverActivations(o: VgLockOptions = {}): Promise<HalfMadeReport[]> {
  const halfMade = (name: string): dm.DeviceInfo | undefined => {
    const i = dm.infoOrNone(name);
    return i?.uuid.startsWith('LVM-') && !i.flags.activePresent && i.openCount === 0 ? i : undefined;
  };
  const out: HalfMadeReport[] = [];
  for (const d of dm.listDevicesSync()) {
    const split = splitDmName(d.name);
    if (!halfMade(d.name) || !split) continue;
    const found = `${d.name}: an LVM device with no live table (an activation of VG ${split.vg} was killed)`;
    try {
      await withVgLock(split.vg, o, async () => {
        if (halfMade(d.name)) await dm.remove(d.name, { retry: true });
      });
      out.push({ device: d.name, found, did: [`removed ${d.name}; 'dmctl lvm activate ${split.vg}' makes it again`], state: 'gone' });
    } catch (e) {
      out.push({ device: d.name, found, did: [], state: 'refused', error: (e as Error).message });
    }
  }
  return out;
}
