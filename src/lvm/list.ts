// What `dmctl lvm list` shows: the VGs on the machine's (or the given) block devices, where each PV
// is now, and each LV with its type, size and the device it is active as.
import * as dm from '../dm';
import type { LvmError } from './errors';
import type { VolumeGroup } from './model';
import { pvDevices, scanLvm } from './scan';

/** One LV in a listing. */
export interface LvListed {
  name: string;
  uuid: string;
  /** `linear`, `striped`, or the type this module does not map (`thin-pool`, `raid1`, ...). */
  type: string;
  sectors: bigint;
  visible: boolean;
  /** The dm device it is active as, if any. */
  active?: string;
}

/** One VG in a listing, with its PVs and LVs. */
export interface VgListed {
  name: string;
  uuid: string;
  seqno: number;
  extentSectors: bigint;
  /** The host that owns it (LVM2's system ID), when set. */
  systemId?: string;
  /** `sanlock` or `dlm` for a shared VG. */
  lockType?: string;
  pvs: { name: string; uuid: string; device?: string; missing: boolean }[];
  lvs: LvListed[];
}

/** What listVolumeGroups found, and what could not be read. */
export interface LvmListing {
  vgs: VgListed[];
  notes: LvmError[];
}

/** Active LVM2 devices by uuid. */
function activeByUuid(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dm.listDevicesSync()) {
    // Undefined when it went between the list and the query.
    const uuid = d.uuid ?? dm.infoOrNone(d.name)?.uuid;
    if (uuid?.startsWith('LVM-')) out.set(uuid, d.name);
  }
  return out;
}

function listed(vg: VolumeGroup, devices: ReturnType<typeof pvDevices>, active: Map<string, string>): VgListed {
  return {
    name: vg.name, uuid: vg.uuid, seqno: vg.seqno, extentSectors: vg.extentSize,
    ...(vg.systemId ? { systemId: vg.systemId } : {}), ...(vg.lockType ? { lockType: vg.lockType } : {}),
    pvs: vg.pvs.map((p) => {
      const dev = devices.get(p.id)?.path;
      return { name: p.name, uuid: p.uuid, ...(dev ? { device: dev } : {}), missing: !dev };
    }),
    lvs: vg.lvs.map((l) => {
      const on = active.get(`LVM-${vg.id}${l.id}`);
      return { name: l.name, uuid: l.uuid, type: l.type, sectors: BigInt(l.extentCount) * vg.extentSize, visible: l.visible, ...(on ? { active: on } : {}) };
    }),
  };
}

/** The VGs found, sorted by name. Changes nothing. */
export function listVolumeGroups(devices?: readonly string[]): LvmListing {
  const scan = scanLvm(devices);
  const byId = pvDevices(scan);
  const active = activeByUuid();
  return { vgs: scan.vgs.map((v) => listed(v, byId, active)).sort((a, b) => a.name.localeCompare(b.name)), notes: scan.errors };
}
