import type { LinearTarget, StripedTarget, ZeroTarget, ErrorTarget, StripedStatus, EmptyStatus } from './targets/basic';
import type { CacheStatus, CacheTarget } from './targets/cache';
import type { CryptTarget } from './targets/crypt';
import type { DelayStatus, DelayTarget, FlakeyTarget, LogWritesStatus, LogWritesTarget } from './targets/debugging';
import type { IntegrityStatus, IntegrityTarget } from './targets/integrity';
import type { MirrorStatus, MirrorTarget } from './targets/mirror';
import type { SnapshotMergeTarget, SnapshotOriginTarget, SnapshotStatus, SnapshotTarget } from './targets/snapshot';
import type { ThinPoolStatus, ThinPoolTarget, ThinStatus, ThinTarget } from './targets/thin';
import type { VerityStatus, VerityTarget } from './targets/verity';
import type { GenericTarget } from './types';

/** Every target type with a typed form. */
export type TypedTarget =
  | LinearTarget
  | StripedTarget
  | ZeroTarget
  | ErrorTarget
  | SnapshotOriginTarget
  | SnapshotTarget
  | SnapshotMergeTarget
  | CryptTarget
  | FlakeyTarget
  | DelayTarget
  | LogWritesTarget
  | ThinPoolTarget
  | ThinTarget
  | MirrorTarget
  | CacheTarget
  | VerityTarget
  | IntegrityTarget;

/** A typed target, or any target in the generic `{ type, params }` form. */
export type Target = TypedTarget | GenericTarget;

/** An ordered list of targets; they must cover sectors 0..n contiguously to load. */
export type Table = readonly Target[];

/** The typed target of type `K`, e.g. `TargetOf<'linear'>`. */
export type TargetOf<K extends TypedTarget['type']> = Extract<TypedTarget, { type: K }>;

/** Parsed status per typed target type. */
export interface StatusMap {
  linear: EmptyStatus;
  zero: EmptyStatus;
  error: EmptyStatus;
  striped: StripedStatus;
  'snapshot-origin': EmptyStatus;
  snapshot: SnapshotStatus;
  'snapshot-merge': SnapshotStatus;
  crypt: EmptyStatus;
  flakey: EmptyStatus;
  delay: DelayStatus;
  'log-writes': LogWritesStatus;
  'thin-pool': ThinPoolStatus;
  thin: ThinStatus;
  mirror: MirrorStatus;
  cache: CacheStatus;
  verity: VerityStatus;
  integrity: IntegrityStatus;
}

/** Status of a type without a typed parser: the line as the kernel gave it. */
export interface RawStatus {
  raw: string;
}
