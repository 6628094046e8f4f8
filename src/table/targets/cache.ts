// cache: dm-cache-target.c.
import { parseU64, tokenize, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { TargetBase, TargetDescriptor } from '../types';

export interface CacheTarget extends TargetBase {
  type: 'cache';
  metadataDevice: DevRef;
  cacheDevice: DevRef;
  originDevice: DevRef;
  /** Cache block size in sectors: a multiple of 64 (32 KiB) from 64 to 2097152. */
  blockSize: bigint;
  /** e.g. writeback, writethrough, passthrough, metadata2, no_discard_passdown. */
  features: string[];
  policy: string;
  /** Key/value words, e.g. ["migration_threshold", "2048"]. */
  policyArgs: string[];
}

export type CacheStatus =
  | { state: 'fail' | 'error' }
  | {
      state: 'ok';
      metadataBlockSize: bigint;
      usedMetadataBlocks: bigint;
      totalMetadataBlocks: bigint;
      cacheBlockSize: bigint;
      usedCacheBlocks: bigint;
      totalCacheBlocks: bigint;
      readHits: bigint;
      readMisses: bigint;
      writeHits: bigint;
      writeMisses: bigint;
      demotions: bigint;
      promotions: bigint;
      dirty: bigint;
      features: string[];
      coreArgs: string[];
      policy: string;
      policyArgs: string[];
      metadataMode: string;
      needsCheck: boolean;
    };

function counted(w: string[], i: number, what: string): [string[], number] {
  const n = Number(parseU64(w[i] ?? '', `${what} count`));
  if (i + 1 + n > w.length) throw new TableError(`cache status: ${what} count ${n} runs past the end`, 'syntax');
  return [w.slice(i + 1, i + 1 + n), i + 1 + n];
}

export function parseCacheStatus(status: string): CacheStatus {
  const w = tokenize(status);
  if (w.length === 1 && (w[0] === 'Fail' || w[0] === 'Error')) return { state: w[0] === 'Fail' ? 'fail' : 'error' };
  if (w.length < 16) throw new TableError(`malformed cache status ${JSON.stringify(status)}`, 'syntax');
  const pair = (s: string, what: string) => {
    const m = /^(\d+)\/(\d+)$/.exec(s);
    if (!m) throw new TableError(`cache status: ${what}: expected used/total`, 'syntax');
    return [BigInt(m[1]), BigInt(m[2])];
  };
  const u = (i: number, what: string) => parseU64(w[i], what);
  const [usedMetadataBlocks, totalMetadataBlocks] = pair(w[1], 'metadata blocks');
  const [usedCacheBlocks, totalCacheBlocks] = pair(w[3], 'cache blocks');
  let i = 11;
  const [features, j] = counted(w, i, 'features');
  const [coreArgs, k] = counted(w, j, 'core args');
  i = k;
  const policy = w[i++];
  const [policyArgs, end] = counted(w, i, 'policy args');
  if (w.length !== end + 2) throw new TableError(`malformed cache status ${JSON.stringify(status)}`, 'syntax');
  return {
    state: 'ok',
    metadataBlockSize: u(0, 'metadata block size'),
    usedMetadataBlocks,
    totalMetadataBlocks,
    cacheBlockSize: u(2, 'cache block size'),
    usedCacheBlocks,
    totalCacheBlocks,
    readHits: u(4, 'read hits'),
    readMisses: u(5, 'read misses'),
    writeHits: u(6, 'write hits'),
    writeMisses: u(7, 'write misses'),
    demotions: u(8, 'demotions'),
    promotions: u(9, 'promotions'),
    dirty: u(10, 'dirty'),
    features,
    coreArgs,
    policy,
    policyArgs,
    metadataMode: w[end],
    needsCheck: w[end + 1] === 'needs_check',
  };
}

// cache_status, STATUSTYPE_TABLE: the three devices as major:minor, then the constructor's remaining
// arguments echoed verbatim ("<block size> <#features> <feature>... <policy> <#policy args> <arg>...").
export const cache: TargetDescriptor<CacheTarget, CacheStatus> = {
  type: 'cache',
  parse(a: ArgReader) {
    const out = {
      metadataDevice: a.next('metadata device'),
      cacheDevice: a.next('cache device'),
      originDevice: a.next('origin device'),
      blockSize: a.u64('block size'),
      features: a.counted('features'),
      policy: a.next('policy'),
      policyArgs: a.counted('policy args'),
    };
    a.end();
    return out;
  },
  format: (t, dev) =>
    [dev(t.metadataDevice), dev(t.cacheDevice), dev(t.originDevice), t.blockSize, t.features.length, ...t.features, t.policy, t.policyArgs.length, ...t.policyArgs].join(' '),
  parseStatus: parseCacheStatus,
  devices: (t) => [
    { ref: t.metadataDevice, role: 'metadata device' },
    { ref: t.cacheDevice, role: 'cache device' },
    { ref: t.originDevice, role: 'origin device', end: t.length },
  ],
  check(t) {
    const out = [];
    if (t.blockSize < 64n || t.blockSize > 2097152n || t.blockSize % 64n !== 0n) out.push({ rule: 'field' as const, message: `block size ${t.blockSize} is not a multiple of 64 sectors in 64..2097152` });
    if (t.policyArgs.length % 2 !== 0) out.push({ rule: 'field' as const, message: 'policy arguments come in key/value pairs' });
    return out;
  },
};
