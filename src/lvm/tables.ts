import { LvmError } from './errors';
import type { LogicalVolume, VolumeGroup } from './model';
import { dmName, dmUuidOf } from './names';
import { isStripedType } from './segments';

/** One line of a dm table, in sectors. */
export interface TableLine {
  start: bigint;
  length: bigint;
  type: 'linear' | 'striped';
  params: string;
}

/** Options of activationPlan() and lvTable(). */
export interface TableOptions {
  /**
   * LVM2's `activation/use_linear_target` (default on): a one-stripe segment becomes a `linear`
   * line. Off, it becomes `striped 1 <extent size>` when the extent holds a whole page.
   */
  useLinearTarget?: boolean;
  /** This host's system IDs (its name, its machine-id): a VG owned by another is refused. */
  localSystemIds?: readonly string[];
  /** The PV's device size now, in sectors: an LV reaching past it is refused (a shrunk or truncated PV). */
  pvSectors?: (pvId: string) => bigint | undefined;
}

/** `major:minor` of the device holding a PV, by the PV's 32-character id; undefined if absent. */
export type PvDevice = (pvId: string) => string | undefined;

/** Sectors in a 4 KiB page: LVM2 uses striped for one stripe only when an extent is at least this. */
const PAGE_SECTORS = 8n;

export { dmName };

/** The dm uuid LVM2 gives a visible linear or striped LV. */
export function dmUuid(vg: VolumeGroup, lv: LogicalVolume): string {
  return dmUuidOf(vg.id, lv.id);
}

/**
 * The table `vgchange -ay` loads for the LV. Refuses (LvmError) an LV with a segment type it
 * does not map, with a stripe on another LV, or with a stripe on a PV that is missing.
 */
export function lvTable(vg: VolumeGroup, lv: LogicalVolume, pvDevice: PvDevice, options: TableOptions = {}): TableLine[] {
  const where = `${vg.name}/${lv.name}`;
  const other = lv.segments.find((s) => !isStripedType(s.type));
  if (other) {
    throw new LvmError('UNSUPPORTED_SEGMENT', where, `LV ${lv.name} is of type ${other.type}, which this module does not map (only linear and striped)`, { lv: lv.name, segmentType: other.type });
  }
  const pvs = new Map(vg.pvs.map((p) => [p.name, p]));
  const absent = new Set<string>();
  const lines = lv.segments.map((seg): TableLine => {
    const start = BigInt(seg.startExtent) * vg.extentSize;
    const length = BigInt(seg.extentCount) * vg.extentSize;
    const areas = seg.areas!.map((a) => {
      if (a.kind === 'lv') {
        throw new LvmError('LV_AREA', seg.where, `LV ${lv.name} has a stripe on LV ${a.lv}; layered LVs are not mapped`, { lv: lv.name, segmentType: seg.type });
      }
      const pv = pvs.get(a.pv)!;
      const dev = pv.missing ? undefined : pvDevice(pv.id);
      if (dev === undefined) absent.add(`${pv.name} (${pv.uuid})`);
      const first = pv.peStart + BigInt(a.extent) * vg.extentSize;
      const end = first + length / BigInt(seg.areas!.length);
      const size = dev === undefined ? undefined : options.pvSectors?.(pv.id);
      if (size !== undefined && end > size) {
        throw new LvmError('PAST_END', seg.where, `LV ${lv.name} needs sectors ${first}..${end - 1n} of ${pv.name} (${dev}), which has ${size}`, { lv: lv.name });
      }
      return `${dev ?? '-'} ${first}`;
    });
    if (areas.length > 1) return { start, length, type: 'striped', params: `${areas.length} ${seg.stripeSize} ${areas.join(' ')}` };
    if (options.useLinearTarget === false && vg.extentSize >= PAGE_SECTORS) {
      return { start, length, type: 'striped', params: `1 ${vg.extentSize} ${areas[0]}` };
    }
    return { start, length, type: 'linear', params: areas[0]! };
  });
  if (absent.size) {
    throw new LvmError('MISSING_PV', where, `LV ${lv.name} needs ${[...absent].join(', ')}, which is missing; LVM2 refuses a partial LV too`, { lv: lv.name });
  }
  return lines;
}

/** What `vgchange -ay` does with one LV. */
export type Activation =
  | { lv: LogicalVolume; action: 'create'; name: string; uuid: string; table: TableLine[] }
  | { lv: LogicalVolume; action: 'refuse'; name: string; uuid: string; error: LvmError }
  /** Hidden LVs are only activated under the LV that uses them; ACTIVATION_SKIP ones need `-K`. */
  | { lv: LogicalVolume; action: 'skip'; reason: 'hidden' | 'activation-skip' };

/** Why LVM2 would activate no LV of the VG on this host, if it would not. */
function vgRefusal(vg: VolumeGroup, lv: LogicalVolume, options: TableOptions): LvmError | undefined {
  const extra = { lv: lv.name };
  if (vg.status.includes('EXPORTED')) return new LvmError('EXPORTED_VG', vg.name, `VG ${vg.name} is exported`, extra);
  if (vg.lockType) {
    return new LvmError('SHARED_VG', vg.name, `VG ${vg.name} is shared (lock type ${vg.lockType}): only lvmlockd may activate its LVs`, extra);
  }
  if (vg.systemId && !options.localSystemIds?.includes(vg.systemId)) {
    return new LvmError('FOREIGN_VG', vg.name, `VG ${vg.name} belongs to system ID ${JSON.stringify(vg.systemId)}, not to this host: activating it here could corrupt it`, extra);
  }
  return undefined;
}

/** Every LV of the VG with what `vgchange -ay` would do with it; one LV's refusal leaves the others be. */
export function activationPlan(vg: VolumeGroup, pvDevice: PvDevice, options: TableOptions = {}): Activation[] {
  return vg.lvs.map((lv): Activation => {
    if (!lv.visible) return { lv, action: 'skip', reason: 'hidden' };
    if (lv.flags.includes('ACTIVATION_SKIP')) return { lv, action: 'skip', reason: 'activation-skip' };
    const name = dmName(vg.name, lv.name);
    const uuid = dmUuid(vg, lv);
    const refuse = vgRefusal(vg, lv, options);
    if (refuse) return { lv, action: 'refuse', name, uuid, error: refuse };
    try {
      return { lv, action: 'create', name, uuid, table: lvTable(vg, lv, pvDevice, options) };
    } catch (e) {
      if (e instanceof LvmError) return { lv, action: 'refuse', name, uuid, error: e };
      throw e;
    }
  });
}
