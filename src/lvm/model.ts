import { type ConfigSection, parseConfigText } from './config-text';
import { LvmError } from './errors';
import { type Scope, optionalInt, optionalString, section, optionalSection, string, stringList, subsections, u32, u64, whereKey, whereOf } from './fields';
import { checkName, formatId, parseId } from './names';
import { type Segment, isStripedType, mergeSegments, readSegments } from './segments';

/** A PV as the VG metadata records it. */
export interface PhysicalVolume {
  /** The section name the segments refer to, e.g. `pv0`. */
  name: string;
  /** 32 characters, no dashes: what the PV label holds. */
  id: string;
  uuid: string;
  /** The device path LVM2 last saw the PV on; a hint only. */
  deviceHint?: string;
  status: string[];
  flags: string[];
  /** Sectors. */
  devSize?: bigint;
  /** Sector of the PV where extent 0 begins. */
  peStart: bigint;
  peCount: number;
  /** LVM2 recorded the PV as missing. */
  missing: boolean;
}

/** An LV as the VG metadata records it. */
export interface LogicalVolume {
  name: string;
  id: string;
  uuid: string;
  status: string[];
  flags: string[];
  tags: string[];
  /** Hidden LVs (no VISIBLE status) are parts of others and never activated on their own. */
  visible: boolean;
  /** `linear`, `striped`, or the first segment type this module does not map (`thin`, `raid1`, ...). */
  type: string;
  extentCount: number;
  /** As LVM2 holds them after reading: sorted, contiguous, adjacent continuations merged. */
  segments: Segment[];
  /** A persistent device number (lvcreate --persistent y). */
  major?: number;
  minor?: number;
}

/** A volume group as its metadata describes it. */
export interface VolumeGroup {
  name: string;
  id: string;
  uuid: string;
  seqno: number;
  /** Sectors per extent. */
  extentSize: bigint;
  status: string[];
  flags: string[];
  /** The host that owns the VG (LVM2's system ID); other hosts must not activate it. */
  systemId?: string;
  /** `sanlock` or `dlm`: a shared VG, activated only through lvmlockd. */
  lockType?: string;
  pvs: PhysicalVolume[];
  lvs: LogicalVolume[];
}

const CONTENTS = 'Text Format Volume Group';

/** The VG described by metadata text (as read from a PV or a `vgcfgbackup` file). */
export function volumeGroupFromText(text: string): VolumeGroup {
  return volumeGroupFromConfig(parseConfigText(text));
}

/** The VG described by parsed metadata text (see parseConfigText). */
export function volumeGroupFromConfig(root: ConfigSection): VolumeGroup {
  const top: Scope = { section: root, path: '' };
  if (optionalString(top, 'contents') !== CONTENTS) throw new LvmError('FORMAT', whereKey(top, 'contents'), `contents is not "${CONTENTS}"`);
  if (optionalInt(top, 'version', -(1n << 63n), 1n << 63n) !== 1n) throw new LvmError('FORMAT', whereKey(top, 'version'), 'version is not 1');
  // As LVM2: the VG is the first top-level section.
  const vgNode = root.children.find((n): n is ConfigSection => n.kind === 'section');
  if (!vgNode) throw new LvmError('FORMAT', '1:1', 'no volume group section');
  const vg: Scope = { section: vgNode, path: vgNode.key };
  const name = checkName(vgNode.key, whereOf(vg.path, vgNode.at));
  const id = parseId(string(vg, 'id'), whereKey(vg, 'id'));
  const extentSize = BigInt(u32(vg, 'extent_size', 1n));
  const pvs = subsections(section(vg, 'physical_volumes')).map(readPv);
  const pvNames = new Map(pvs.map((p) => [p.name, p]));
  unique(pvs.map((p) => p.name), 'PV section', whereKey(vg, 'physical_volumes'));
  unique(pvs.map((p) => p.id), 'PV id', whereKey(vg, 'physical_volumes'));
  const lvScopes = subsections(optionalSection(vg, 'logical_volumes') ?? { section: { ...vgNode, children: [] }, path: `${name}/logical_volumes` });
  unique(lvScopes.map((s) => s.section.key), 'LV name', whereKey(vg, 'logical_volumes'));
  const names = { pvs: pvNames, lvs: new Set(lvScopes.map((s) => s.section.key)) };
  const lvs = lvScopes.map((s) => readLv(s, names));
  checkPvExtents(lvs);
  const systemId = optionalString(vg, 'system_id');
  const lockType = optionalString(vg, 'lock_type');
  return {
    name, id, uuid: formatId(id), seqno: u32(vg, 'seqno'), extentSize,
    status: stringList(vg, 'status', true), flags: stringList(vg, 'flags'),
    ...(systemId ? { systemId } : {}), ...(lockType && lockType !== 'none' ? { lockType } : {}), pvs, lvs,
  };
}

function readPv(pv: Scope): PhysicalVolume {
  const id = parseId(string(pv, 'id'), whereKey(pv, 'id'));
  const status = stringList(pv, 'status', true);
  const flags = stringList(pv, 'flags');
  const devSize = optionalInt(pv, 'dev_size', 0n, (1n << 64n) - 1n);
  const deviceHint = optionalString(pv, 'device');
  return {
    name: pv.section.key, id, uuid: formatId(id), status, flags,
    ...(deviceHint !== undefined ? { deviceHint } : {}),
    ...(devSize !== undefined ? { devSize } : {}),
    peStart: u64(pv, 'pe_start'), peCount: u32(pv, 'pe_count'),
    missing: status.includes('MISSING') || flags.includes('MISSING'),
  };
}

function readLv(lv: Scope, names: Parameters<typeof readSegments>[1]): LogicalVolume {
  const name = checkName(lv.section.key, whereOf(lv.path, lv.section.at));
  const id = parseId(string(lv, 'id'), whereKey(lv, 'id'));
  const status = stringList(lv, 'status', true);
  const read = readSegments(lv, names);
  // LVM2 leaves segments of an LV that a pvmove holds as they are.
  const segments = status.includes('LOCKED') || status.includes('PVMOVE') ? read : mergeSegments(read);
  const last = segments[segments.length - 1]!;
  const major = optionalInt(lv, 'major', -1n, 0xffffffffn);
  const minor = optionalInt(lv, 'minor', -1n, 0xffffffffn);
  return {
    name, id, uuid: formatId(id), status, flags: stringList(lv, 'flags'), tags: stringList(lv, 'tags'),
    visible: status.includes('VISIBLE'), type: lvType(segments), extentCount: last.startExtent + last.extentCount, segments,
    ...(major !== undefined && major >= 0n ? { major: Number(major) } : {}),
    ...(minor !== undefined && minor >= 0n ? { minor: Number(minor) } : {}),
  };
}

function lvType(segs: Segment[]): string {
  const other = segs.find((s) => !isStripedType(s.type));
  if (other) return other.type;
  return segs.some((s) => (s.areas?.length ?? 1) > 1) ? 'striped' : 'linear';
}

/** No extent of a PV may belong to two segments (LVM2 builds one PV segment per use). */
function checkPvExtents(lvs: LogicalVolume[]): void {
  const uses = new Map<string, { from: number; to: number; what: string; where: string }[]>();
  for (const lv of lvs) {
    for (const seg of lv.segments) {
      const width = seg.areas ? seg.extentCount / seg.areas.length : 0;
      seg.areas?.forEach((a, i) => {
        if (a.kind !== 'pv') return;
        const list = uses.get(a.pv) ?? [];
        list.push({ from: a.extent, to: a.extent + width, what: `${lv.name} ${seg.name} stripe ${i}`, where: seg.where });
        uses.set(a.pv, list);
      });
    }
  }
  for (const [pv, list] of uses) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (b.from < a.to) {
        throw new LvmError('OVERLAP', b.where, `${b.what} uses extents ${b.from}..${b.to - 1} of ${pv}, which ${a.what} also uses (${a.from}..${a.to - 1})`);
      }
    }
  }
}

function unique(values: string[], what: string, where: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new LvmError('DUPLICATE', where, `${what} ${v} appears twice`);
    seen.add(v);
  }
}
