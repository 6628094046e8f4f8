import { LvmError } from './errors';
import { type Scope, list, optionalInt, string, stringList, subsections, u32, whereKey, whereOf } from './fields';

/** One stripe of a striped or linear segment: extents on a PV, or (for layered LVs) on another LV. */
export type SegmentArea =
  | { kind: 'pv'; pv: string; extent: number }
  | { kind: 'lv'; lv: string; extent: number };

/** A segment of an LV: a run of extents of one type mapped onto PV or LV areas. */
export interface Segment {
  /** The section name, e.g. `segment1` (after merging, the first merged segment's). */
  name: string;
  /** The segment type as written, without any `+FLAGS` suffix: `striped`, `thin`, `raid1`, ... */
  type: string;
  startExtent: number;
  extentCount: number;
  /** Sectors; only for striped segments with more than one stripe. */
  stripeSize?: number;
  /** Only for the types this module maps (`striped`, `linear`); one per stripe. */
  areas?: SegmentArea[];
  tags: string[];
  /** For messages. */
  where: string;
}

/** The segment types whose tables this module builds: LVM2's striped handler reads both. */
export const isStripedType = (type: string): boolean => type === 'striped' || type === 'linear';

export interface VolumeNames {
  pvs: Map<string, { peCount: number }>;
  lvs: Set<string>;
}

/** The segments of one LV, validated and sorted; merging is left to `mergeSegments`. */
export function readSegments(lvScope: Scope, names: VolumeNames): Segment[] {
  const segs = subsections(lvScope).map((s) => readSegment(s, names));
  const count = u32(lvScope, 'segment_count');
  if (count !== segs.length) {
    throw new LvmError('SEGMENT_COUNT', whereKey(lvScope, 'segment_count'), `segment_count is ${count} but there are ${segs.length} segment sections`);
  }
  if (segs.length === 0) throw new LvmError('SEGMENT_COUNT', whereOf(lvScope.path, lvScope.section.at), 'the LV has no segment');
  segs.sort((a, b) => a.startExtent - b.startExtent);
  let next = 0;
  for (const s of segs) {
    if (s.startExtent < next) throw new LvmError('OVERLAP', s.where, `starts at extent ${s.startExtent}, inside the previous segment (which ends at ${next})`);
    if (s.startExtent > next) throw new LvmError('GAP', s.where, `starts at extent ${s.startExtent}; the LV has no segment for extents ${next}..${s.startExtent - 1}`);
    next = s.startExtent + s.extentCount;
  }
  return segs;
}

function readSegment(scope: Scope, names: VolumeNames): Segment {
  const where = whereOf(scope.path, scope.section.at);
  const startExtent = u32(scope, 'start_extent');
  const extentCount = u32(scope, 'extent_count', 1n);
  // LVM2 writes some LV flags into the type as `type+FLAG+...`; the type is what comes before.
  const type = string(scope, 'type').split('+')[0]!;
  const tags = stringList(scope, 'tags');
  const seg: Segment = { name: scope.path.slice(scope.path.lastIndexOf('/') + 1), type, startExtent, extentCount, tags, where };
  if (!isStripedType(type)) return seg;
  const stripes = u32(scope, 'stripe_count', 1n);
  if (stripes > 1) seg.stripeSize = Number(optionalInt(scope, 'stripe_size', 1n, 0xffffffffn) ?? missingStripeSize(scope));
  if (extentCount % stripes !== 0) {
    throw new LvmError('STRIPES', whereKey(scope, 'extent_count'), `${extentCount} extents do not divide into ${stripes} stripes`);
  }
  const { items, where: listWhere } = list(scope, 'stripes');
  if (items.length !== 2 * stripes) {
    throw new LvmError('STRIPES', listWhere, `stripe_count is ${stripes} but the stripes list has ${items.length / 2} volume/extent pairs`);
  }
  const areaLen = extentCount / stripes;
  seg.areas = [];
  for (let i = 0; i < items.length; i += 2) {
    const name = items[i]!;
    const extent = items[i + 1]!;
    if (name.kind !== 'string' || extent.kind !== 'int' || extent.value < 0n || extent.value > 0xffffffffn) {
      throw new LvmError('BAD_VALUE', listWhere, `stripe ${i / 2} should be a volume name and an extent number`);
    }
    const pv = names.pvs.get(name.value);
    const first = Number(extent.value);
    if (pv) {
      if (first + areaLen > pv.peCount) {
        throw new LvmError('EXTENTS', listWhere, `stripe ${i / 2} uses extents ${first}..${first + areaLen - 1} of ${name.value}, which has ${pv.peCount}`);
      }
      seg.areas.push({ kind: 'pv', pv: name.value, extent: first });
    } else if (names.lvs.has(name.value)) {
      seg.areas.push({ kind: 'lv', lv: name.value, extent: first });
    } else {
      throw new LvmError('UNKNOWN_VOLUME', listWhere, `stripe ${i / 2} names ${JSON.stringify(name.value)}, which is neither a PV nor an LV of this VG`);
    }
  }
  return seg;
}

function missingStripeSize(scope: Scope): never {
  throw new LvmError('MISSING_FIELD', whereOf(scope.path, scope.section.at), 'stripe_size is missing');
}

/**
 * LVM2 merges adjacent striped segments that continue each other on the same PVs when it reads
 * metadata (lib/metadata/merge.c), so one table line covers them; except for LVs a pvmove holds.
 */
export function mergeSegments(segs: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segs) {
    const prev = out[out.length - 1];
    if (prev && continues(prev, s)) {
      out[out.length - 1] = { ...prev, extentCount: prev.extentCount + s.extentCount };
    } else out.push(s);
  }
  return out;
}

function continues(a: Segment, b: Segment): boolean {
  if (a.type !== b.type || !a.areas || !b.areas || a.areas.length !== b.areas.length || a.stripeSize !== b.stripeSize) return false;
  if (a.tags.length !== b.tags.length || a.tags.some((t) => !b.tags.includes(t))) return false;
  const width = a.extentCount / a.areas.length;
  return a.areas.every((x, i) => {
    const y = b.areas![i]!;
    return x.kind === 'pv' && y.kind === 'pv' && x.pv === y.pv && x.extent + width === y.extent;
  });
}
