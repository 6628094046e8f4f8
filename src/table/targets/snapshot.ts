// snapshot-origin, snapshot, snapshot-merge: dm-snap.c, dm-snap-persistent.c, dm-snap-transient.c.
import { isPowerOfTwo, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { FeatureNeed, FieldProblem, TargetBase, TargetDescriptor } from '../types';
import { parseEmptyStatus, type EmptyStatus } from './basic';

/** The `snapshot-origin` target: the live device of a snapshotted origin. */
export interface SnapshotOriginTarget extends TargetBase {
  type: 'snapshot-origin';
  origin: DevRef;
}

/** P persistent, PO persistent + "Overflow" reporting, N transient. */
export type SnapshotStore = 'P' | 'PO' | 'N';

interface SnapshotFields {
  origin: DevRef;
  cow: DevRef;
  store: SnapshotStore;
  /** Chunk size in sectors; a power of two. */
  chunkSize: bigint;
  discardZeroesCow?: boolean;
  /** Requires discardZeroesCow. */
  discardPassdownOrigin?: boolean;
}

/** The `snapshot` target: a point-in-time view of an origin, changes kept in a COW store. */
export interface SnapshotTarget extends TargetBase, SnapshotFields {
  type: 'snapshot';
}

/** The `snapshot-merge` target: merges a snapshot's COW back into its origin. */
export interface SnapshotMergeTarget extends TargetBase, SnapshotFields {
  type: 'snapshot-merge';
}

/**
 * snapshot_status, STATUSTYPE_INFO: "<allocated>/<total> <metadata>" (sectors of the COW device), or
 * one of the words "Invalid", "Merge failed", "Overflow", "Unknown".
 */
export type SnapshotStatus =
  | { state: 'active'; allocated: bigint; total: bigint; metadata: bigint }
  | { state: 'invalid' | 'merge-failed' | 'overflow' | 'unknown' };

const WORD_STATES: Record<string, SnapshotStatus['state']> = {
  Invalid: 'invalid',
  'Merge failed': 'merge-failed',
  Overflow: 'overflow',
  Unknown: 'unknown',
};

/**
 * Parses a snapshot or snapshot-merge status line: allocation numbers, or Invalid, Overflow, Merge failed or Unknown.
 */
export function parseSnapshotStatus(status: string): SnapshotStatus {
  const s = status.trim();
  const word = WORD_STATES[s];
  if (word) return { state: word } as SnapshotStatus;
  const m = /^(\d+)\/(\d+) (\d+)$/.exec(s);
  if (!m) throw new TableError(`malformed snapshot status ${JSON.stringify(status)}`, 'syntax');
  return { state: 'active', allocated: BigInt(m[1]), total: BigInt(m[2]), metadata: BigInt(m[3]) };
}

/** Fill level of the COW store in percent (0-100), or undefined when the status holds no numbers. */
export function percentFull(s: SnapshotStatus): number | undefined {
  if (s.state !== 'active') return undefined;
  if (s.total === 0n) return 100;
  return Number((s.allocated * 1_000_000n) / s.total) / 10_000;
}

/**
 * Fraction (0..1) of a merge that is done. A merge copies data chunks back to the origin, so
 * `allocated` falls from its value when the merge started (`initialAllocated`, read from the first
 * status after the snapshot-merge table resumed) toward `metadata`, where the merge is complete:
 * progress = (initialAllocated - allocated) / (initialAllocated - metadata), clamped to [0, 1].
 * 1 when there was nothing to merge; undefined when the status holds no numbers.
 */
export function mergeProgress(s: SnapshotStatus, initialAllocated: bigint): number | undefined {
  if (s.state !== 'active') return undefined;
  const todo = initialAllocated - s.metadata;
  if (todo <= 0n) return 1;
  const done = initialAllocated - s.allocated;
  if (done <= 0n) return 0;
  if (done >= todo) return 1;
  return Number((done * 1_000_000n) / todo) / 1_000_000;
}

/** The merge is over when only metadata remains in the COW store (allocated == metadata). */
export function mergeComplete(s: SnapshotStatus): boolean {
  return s.state === 'active' && s.allocated === s.metadata;
}

/** The snapshot can no longer be used: invalidated (full P store, I/O error) or a failed merge. */
export function isInvalid(s: SnapshotStatus): boolean {
  return s.state === 'invalid' || s.state === 'merge-failed';
}

// Table (snapshot_status, STATUSTYPE_TABLE): "<origin> <cow>" then the store's " P|PO|N <chunk>"
// then, only when some are set, " <n> [discard_zeroes_cow] [discard_passdown_origin]" in that order.
function snapshotLike<T extends 'snapshot' | 'snapshot-merge'>(type: T): TargetDescriptor<TargetBase & SnapshotFields & { type: T }, SnapshotStatus> {
  return {
    type,
    parse(a: ArgReader) {
      const origin = a.next('origin');
      const cow = a.next('COW device');
      // snapshot_ctr upper-cases the store letters.
      const store = a.oneOf('store', ['P', 'PO', 'N'] as const, (s) => s.toUpperCase());
      const chunkSize = a.u64('chunk size');
      const features = a.counted('features');
      a.end();
      const out: SnapshotFields = { origin, cow, store, chunkSize };
      for (const f of features) {
        if (f === 'discard_zeroes_cow') out.discardZeroesCow = true;
        else if (f === 'discard_passdown_origin') out.discardPassdownOrigin = true;
        else throw new TableError(`unknown feature ${JSON.stringify(f)}`, 'syntax');
      }
      return out;
    },
    format(t, dev) {
      const feats = [t.discardZeroesCow && 'discard_zeroes_cow', t.discardPassdownOrigin && 'discard_passdown_origin'].filter(Boolean);
      const tail = feats.length ? ` ${feats.length} ${feats.join(' ')}` : '';
      return `${dev(t.origin)} ${dev(t.cow)} ${t.store} ${t.chunkSize}${tail}`;
    },
    parseStatus: parseSnapshotStatus,
    devices: (t) => [
      { ref: t.origin, role: 'origin', end: t.length },
      { ref: t.cow, role: 'COW device' },
    ],
    check(t) {
      const out: FieldProblem[] = [];
      if (!isPowerOfTwo(t.chunkSize)) out.push({ rule: 'chunk-size', message: `chunk size ${t.chunkSize} is not a power of two > 0` });
      if (t.discardPassdownOrigin && !t.discardZeroesCow) out.push({ rule: 'field', message: 'discard_passdown_origin needs discard_zeroes_cow' });
      // The transient store has no prepare_merge, so the kernel refuses to merge it.
      if (type === 'snapshot-merge' && t.store === 'N') out.push({ rule: 'field', message: 'a transient (N) store cannot be merged' });
      return out;
    },
    features(t) {
      // dm-snap.c: discard features came with snapshot target 1.16.0 (the patch bumped 1.15.0 -> 1.16.0).
      const out: FeatureNeed[] = [];
      if (t.discardZeroesCow) out.push({ feature: 'discard_zeroes_cow', version: [1, 16, 0] });
      if (t.discardPassdownOrigin) out.push({ feature: 'discard_passdown_origin', version: [1, 16, 0] });
      return out;
    },
  };
}

export const snapshot = snapshotLike('snapshot');
export const snapshotMerge = snapshotLike('snapshot-merge');

// Table (origin_status): "<origin>". Status: empty.
export const snapshotOrigin: TargetDescriptor<SnapshotOriginTarget, EmptyStatus> = {
  type: 'snapshot-origin',
  parse(a) {
    const origin = a.next('origin');
    a.end();
    return { origin };
  },
  format: (t, dev) => dev(t.origin),
  parseStatus: parseEmptyStatus,
  devices: (t) => [{ ref: t.origin, role: 'origin', end: t.length }],
};
