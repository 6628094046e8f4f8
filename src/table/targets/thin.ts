// thin-pool and thin: dm-thin.c.
import { flagsInOrder, statusReader, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { FieldProblem, TargetBase, TargetDescriptor } from '../types';

type PoolFlag = 'skipBlockZeroing' | 'ignoreDiscard' | 'noDiscardPassdown' | 'readOnly' | 'errorIfNoSpace';

/** The `thin-pool` target: a pool of blocks for thin devices, with a metadata device. */
export interface ThinPoolTarget extends TargetBase, Partial<Record<PoolFlag, boolean>> {
  type: 'thin-pool';
  metadataDevice: DevRef;
  dataDevice: DevRef;
  /** Data block size in sectors: a multiple of 128 (64 KiB) from 128 to 2097152 (1 GiB). */
  blockSize: bigint;
  /** Free data blocks below which the pool raises an event. */
  lowWaterMark: bigint;
}

/** The `thin` target: a thin device in a pool. */
export interface ThinTarget extends TargetBase {
  type: 'thin';
  poolDevice: DevRef;
  /** 24-bit thin device id inside the pool. */
  deviceId: number;
  externalOrigin?: DevRef;
}

/** Status of a thin-pool target, or its failed state. */
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

/** Status of a thin target, or its failed state. */
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

/** Parses a thin-pool status line. */
export function parseThinPoolStatus(status: string): ThinPoolStatus {
  const a = statusReader(status);
  if (a.remaining === 1 && (status.trim() === 'Fail' || status.trim() === 'Error')) return { state: status.trim() === 'Fail' ? 'fail' : 'error' };
  const transactionId = a.u64('transaction id');
  const [usedMetadataBlocks, totalMetadataBlocks] = a.ratio('metadata blocks');
  const [usedDataBlocks, totalDataBlocks] = a.ratio('data blocks');
  const heldMetadataRoot = a.u64OrDash('held metadata root');
  const out: ThinPoolStatus = {
    state: 'ok',
    transactionId,
    usedMetadataBlocks,
    totalMetadataBlocks,
    usedDataBlocks,
    totalDataBlocks,
    ...(heldMetadataRoot === undefined ? {} : { heldMetadataRoot }),
    mode: a.oneOf('mode', ['rw', 'ro', 'out_of_data_space'] as const),
    discards: a.oneOf('discards', ['discard_passdown', 'no_discard_passdown', 'ignore_discard'] as const),
    noSpace: a.oneOf('no-space policy', ['error_if_no_space', 'queue_if_no_space'] as const),
    // Older kernels stop before needs_check, and before the metadata low watermark.
    needsCheck: a.remaining > 0 && a.oneOf('needs_check', ['needs_check', '-'] as const) === 'needs_check',
  };
  if (a.remaining) out.metadataLowWatermark = a.u64('metadata low watermark');
  a.end();
  return out;
}

/** Parses a thin target's status line. */
export function parseThinStatus(status: string): ThinStatus {
  const a = statusReader(status);
  const word = status.trim();
  if (word === 'Fail') return { state: 'fail' };
  if (word === '-') return { state: 'inactive' };
  const mappedSectors = a.u64('mapped sectors');
  const highestMappedSector = a.u64OrDash('highest mapped sector');
  a.end();
  return highestMappedSector === undefined ? { state: 'ok', mappedSectors } : { state: 'ok', mappedSectors, highestMappedSector };
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
