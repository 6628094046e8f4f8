// linear, striped, zero, error: dm-linear.c, dm-stripe.c, dm-zero.c, dm-target.c.
import { statusReader, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { FieldProblem, TargetBase, TargetDescriptor } from '../types';

/** The `linear` target: maps onto a range of one device. */
export interface LinearTarget extends TargetBase {
  type: 'linear';
  device: DevRef;
  /** Sector on `device` where this target begins. */
  offset: bigint;
}

/** One stripe of a striped target: a device and an offset. */
export interface Stripe {
  device: DevRef;
  offset: bigint;
}

/** The `striped` target: chunks spread over several devices. */
export interface StripedTarget extends TargetBase {
  type: 'striped';
  /** Chunk size in sectors. */
  chunkSize: bigint;
  stripes: Stripe[];
}

/** The `zero` target: reads zeros, discards writes. */
export interface ZeroTarget extends TargetBase {
  type: 'zero';
}

/** The `error` target: fails every I/O. */
export interface ErrorTarget extends TargetBase {
  type: 'error';
}

/** Per-device health as dm-stripe and dm-raid1 print it: A alive, D dead, and for mirrors F/S/R/U. */
export type HealthChar = 'A' | 'D' | 'F' | 'S' | 'R' | 'U';

/** Status of a striped target: the health of each stripe. */
export interface StripedStatus {
  devices: string[];
  health: HealthChar[];
}

/** Targets whose status line is always empty. */
export type EmptyStatus = Record<string, never>;

export function parseEmptyStatus(status: string): EmptyStatus {
  if (status.trim() !== '') throw new TableError(`expected an empty status, got ${JSON.stringify(status)}`, 'syntax');
  return {};
}

export function parseHealth(word: string, count: number): HealthChar[] {
  if (word.length !== count || !/^[ADFSRU]*$/.test(word)) {
    throw new TableError(`health: expected ${count} of A/D/F/S/R/U, got ${JSON.stringify(word)}`, 'syntax');
  }
  return [...word] as HealthChar[];
}

// Table: "<dev> <offset>" (linear_status, STATUSTYPE_TABLE: "%s %llu").
export const linear: TargetDescriptor<LinearTarget, EmptyStatus> = {
  type: 'linear',
  parse(a: ArgReader) {
    const device = a.next('device');
    const offset = a.u64('offset');
    a.end();
    return { device, offset };
  },
  format: (t, dev) => `${dev(t.device)} ${t.offset}`,
  parseStatus: parseEmptyStatus,
  devices: (t) => [{ ref: t.device, role: 'device', end: t.offset + t.length }],
};

// Table: "<#stripes> <chunk> (<dev> <offset>)..." (stripe_status: "%d %llu" then " %s %llu").
// Status: "<#stripes> <dev>... 1 <health chars>".
export const striped: TargetDescriptor<StripedTarget, StripedStatus> = {
  type: 'striped',
  parse(a) {
    const n = a.u32('number of stripes');
    const chunkSize = a.u64('chunk size');
    const stripes: Stripe[] = [];
    for (let i = 0; i < n; i++) stripes.push({ device: a.next(`stripe ${i} device`), offset: a.u64(`stripe ${i} offset`) });
    a.end();
    return { chunkSize, stripes };
  },
  format: (t, dev) => [String(t.stripes.length), String(t.chunkSize), ...t.stripes.map((s) => `${dev(s.device)} ${s.offset}`)].join(' '),
  parseStatus(status) {
    const a = statusReader(status);
    const n = a.u32('number of stripes');
    const devices = Array.from({ length: n }, (_, i) => a.next(`stripe ${i} device`));
    a.oneOf('health count', ['1'] as const);
    const health = parseHealth(a.next('health'), n);
    a.end();
    return { devices, health };
  },
  devices: (t) => {
    const per = t.stripes.length ? (t.length + BigInt(t.stripes.length) - 1n) / BigInt(t.stripes.length) : 0n;
    return t.stripes.map((s, i) => ({ ref: s.device, role: `stripe ${i}`, end: s.offset + per }));
  },
  // stripe_ctr: at least one stripe, chunk > 0 (any size on current kernels), and the length must
  // split into whole chunks on every stripe.
  check(t) {
    const out: FieldProblem[] = [];
    const n = BigInt(t.stripes.length);
    if (n < 1n) out.push({ rule: 'field', message: 'at least one stripe is needed' });
    if (t.chunkSize === 0n) out.push({ rule: 'field', message: 'chunk size must be > 0' });
    if (n >= 1n && t.length % n !== 0n) out.push({ rule: 'field', message: `length ${t.length} is not divisible by the ${n} stripes` });
    else if (n >= 1n && t.chunkSize > 0n && (t.length / n) % t.chunkSize !== 0n) {
      out.push({ rule: 'field', message: `each stripe's ${t.length / n} sectors are not a whole number of ${t.chunkSize}-sector chunks` });
    }
    return out;
  },
};

function noParams<T extends 'zero' | 'error'>(type: T): TargetDescriptor<TargetBase & { type: T }, EmptyStatus> {
  return {
    type,
    parse(a) {
      a.end();
      return {};
    },
    format: () => '',
    parseStatus: parseEmptyStatus,
  };
}

export const zero = noParams('zero');
export const error = noParams('error');
