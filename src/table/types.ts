import type { ArgReader } from './args';
import type { DevRef } from './devref';
import type { TableRule } from './errors';

/** Where a target lies in the table: its first sector and length. */
export interface TargetBase {
  /** First sector of the mapped device this target covers. */
  start: bigint;
  /** Sectors covered. */
  length: bigint;
}

/** Any target type, parameters as the kernel takes and prints them. */
export interface GenericTarget extends TargetBase {
  type: string;
  params: string;
}

/** Writes a device reference in the kernel's spelling (major:minor). */
export type DevFormatter = (ref: DevRef) => string;

/** One device a target uses, and how far into it (sectors) when that is known. */
export interface DeviceUse {
  ref: DevRef;
  role: string;
  /** The target reads or writes sectors [0, end) of the device; undefined: the device must exist only. */
  end?: bigint;
}

/** A problem with a target found by its descriptor: the rule broken and a message. */
export interface FieldProblem {
  rule: TableRule;
  message: string;
}

/** A kernel feature a target asks for, and the target version that first has it. */
export interface FeatureNeed {
  feature: string;
  version: [number, number, number];
  /**
   * For a feature a target gained without a version bump: the first Linux release that has it
   * (major, minor), checked against the running kernel's release.
   */
  linux?: [number, number];
}

/**
 * Everything that differs between target types, as data. T is the typed target, S its parsed status.
 * `parse` returns the fields other than start/length/type.
 */
export interface TargetDescriptor<T extends TargetBase & { type: string } = any, S = unknown> {
  readonly type: T['type'];
  parse(args: ArgReader): Omit<T, 'start' | 'length' | 'type'>;
  format(target: T, dev: DevFormatter): string;
  parseStatus?(status: string): S;
  devices?(target: T): DeviceUse[];
  check?(target: T): FieldProblem[];
  features?(target: T): FeatureNeed[];
  /** The target carries a secret (a key): load it with DM_SECURE_DATA_FLAG. */
  secure?(target: T): boolean;
}
