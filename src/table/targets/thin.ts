// thin-pool and thin: dm-thin.c.
import { flagsInOrder, parseU64, tokenize, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { FieldProblem, TargetBase, TargetDescriptor } from '../types';

type PoolFlag = 'skipBlockZeroing' | 'ignoreDiscard' | 'noDiscardPassdown' | 'readOnly' | 'errorIfNoSpace';

export interface ThinPoolTarget extends TargetBase, Partial<Record<PoolFlag, boolean>> {
  type: 'thin-pool';
  metadataDevice: DevRef;
  dataDevice: DevRef;
  /** Data block size in sectors: a multiple of 128 (64 KiB) from 128 to 2097152 (1 GiB). */
  blockSize: bigint;
  /** Free data blocks below which the pool raises an event. */
  lowWaterMark: bigint;
}

export interface ThinTarget extends TargetBase {
  type: 'thin';
  poolDevice: DevRef;
  /** 24-bit thin device id inside the pool. */
  deviceId: number;
  externalOrigin?: DevRef;
}

export type ThinPoolStatus =
  | { state: 'fail' | 'error' }
  | {
      state: 'ok';
      transactionId: bigint;
      usedMetadataBlocks: bigint;
      totalMetadataBlocks: bigint;
      usedDataBlocks: bigint;
      totalDataBlocks: bigint;
      /** undefined when no metadata snapshot is held ("-"). */
      heldMetadataRoot?: bigint;
      mode: 'rw' | 'ro' | 'out_of_data_space';
      discards: 'discard_passdown' | 'no_discard_passdown' | 'ignore_discard';
      noSpace: 'error_if_no_space' | 'queue_if_no_space';
      needsCheck: boolean;
      /** Newer kernels only. */
      metadataLowWatermark?: bigint;
    };

export type ThinStatus =
  | { state: 'fail' }
  /** The thin device is not (yet) active in the pool. */
  | { state: 'inactive' }
  | { state: 'ok'; mappedSectors: bigint; highestMappedSector?: bigint };

// emit_flags (dm-thin.c): "<n> " then each set flag followed by a space, in this order. The table line
// therefore ends in a space, and keeping it is what makes a round trip byte-exact.
const POOL_FLAGS: readonly (readonly [PoolFlag, string])[] = [
  ['skipBlockZeroing', 'skip_block_zeroing'],
  ['ignoreDiscard', 'ignore_discard'],
  ['noDiscardPassdown', 'no_discard_passdown'],
  ['readOnly', 'read_only'],
  ['errorIfNoSpace', 'error_if_no_space'],
];
const POOL_FLAG_BY_WORD = new Map(POOL_FLAGS.map(([k, w]) => [w, k]));

function pair(word: string, what: string): [bigint, bigint] {
  const m = /^(\d+)\/(\d+)$/.exec(word);
  if (!m) throw new TableError(`${what}: expected used/total, got ${JSON.stringify(word)}`, 'syntax');
  return [BigInt(m[1]), BigInt(m[2])];
}

function oneOf<T extends string>(word: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(word)) throw new TableError(`${what}: unexpected ${JSON.stringify(word)}`, 'syntax');
  return word as T;
}

export function parseThinPoolStatus(status: string): ThinPoolStatus {
  const w = tokenize(status);
  if (w.length === 1 && (w[0] === 'Fail' || w[0] === 'Error')) return { state: w[0] === 'Fail' ? 'fail' : 'error' };
  if (w.length < 8) throw new TableError(`malformed thin-pool status ${JSON.stringify(status)}`, 'syntax');
  const [usedMetadataBlocks, totalMetadataBlocks] = pair(w[1], 'metadata');
  const [usedDataBlocks, totalDataBlocks] = pair(w[2], 'data');
  return {
    state: 'ok',
    transactionId: parseU64(w[0], 'transaction id'),
    usedMetadataBlocks,
    totalMetadataBlocks,
    usedDataBlocks,
    totalDataBlocks,
    ...(w[3] === '-' ? {} : { heldMetadataRoot: parseU64(w[3], 'held metadata root') }),
    mode: oneOf(w[4], ['rw', 'ro', 'out_of_data_space'] as const, 'mode'),
    discards: oneOf(w[5], ['discard_passdown', 'no_discard_passdown', 'ignore_discard'] as const, 'discards'),
    noSpace: oneOf(w[6], ['error_if_no_space', 'queue_if_no_space'] as const, 'no-space policy'),
    needsCheck: oneOf(w[7], ['needs_check', '-'] as const, 'needs_check') === 'needs_check',
    ...(w[8] !== undefined ? { metadataLowWatermark: parseU64(w[8], 'metadata low watermark') } : {}),
  };
}

export function parseThinStatus(status: string): ThinStatus {
  const w = tokenize(status);
  if (w.length === 1 && w[0] === 'Fail') return { state: 'fail' };
  if (w.length === 1 && w[0] === '-') return { state: 'inactive' };
  if (w.length !== 2) throw new TableError(`malformed thin status ${JSON.stringify(status)}`, 'syntax');
  const mappedSectors = parseU64(w[0], 'mapped sectors');
  return w[1] === '-' ? { state: 'ok', mappedSectors } : { state: 'ok', mappedSectors, highestMappedSector: parseU64(w[1], 'highest mapped sector') };
}

// pool_status, STATUSTYPE_TABLE: "<meta> <data> <block size> <low water> " + emit_flags.
export const thinPool: TargetDescriptor<ThinPoolTarget, ThinPoolStatus> = {
  type: 'thin-pool',
  parse(a: ArgReader) {
    const out: Omit<ThinPoolTarget, 'start' | 'length' | 'type'> = {
      metadataDevice: a.next('metadata device'),
      dataDevice: a.next('data device'),
      blockSize: a.u64('data block size'),
      lowWaterMark: a.u64('low water mark'),
    };
    for (const f of a.counted('features')) {
      const k = POOL_FLAG_BY_WORD.get(f);
      if (!k) throw new TableError(`unknown feature ${JSON.stringify(f)}`, 'syntax');
      out[k] = true;
    }
    a.end();
    return out;
  },
  format(t, dev) {
    const flags = flagsInOrder(POOL_FLAGS, t);
    return `${dev(t.metadataDevice)} ${dev(t.dataDevice)} ${t.blockSize} ${t.lowWaterMark} ${flags.length} ${flags.map((f) => `${f} `).join('')}`;
  },
  parseStatus: parseThinPoolStatus,
  devices: (t) => [
    { ref: t.metadataDevice, role: 'metadata device' },
    { ref: t.dataDevice, role: 'data device', end: t.length },
  ],
  check(t) {
    const out: FieldProblem[] = [];
    if (t.blockSize < 128n || t.blockSize > 2097152n || t.blockSize % 128n !== 0n) {
      out.push({ rule: 'field', message: `data block size ${t.blockSize} is not a multiple of 128 sectors in 128..2097152` });
    }
    return out;
  },
};

// thin_status, STATUSTYPE_TABLE: "<pool> <dev id>[ <external origin>]".
export const thin: TargetDescriptor<ThinTarget, ThinStatus> = {
  type: 'thin',
  parse(a) {
    const out: Omit<ThinTarget, 'start' | 'length' | 'type'> = { poolDevice: a.next('pool device'), deviceId: a.u32('device id') };
    if (a.remaining) out.externalOrigin = a.next('external origin');
    a.end();
    return out;
  },
  format: (t, dev) => `${dev(t.poolDevice)} ${t.deviceId}${t.externalOrigin !== undefined ? ` ${dev(t.externalOrigin)}` : ''}`,
  parseStatus: parseThinStatus,
  devices: (t) => [{ ref: t.poolDevice, role: 'pool device' }, ...(t.externalOrigin !== undefined ? [{ ref: t.externalOrigin, role: 'external origin' }] : [])],
  check: (t) => (t.deviceId >= 1 << 24 ? [{ rule: 'field', message: `device id ${t.deviceId} exceeds 24 bits` }] : []),
};
