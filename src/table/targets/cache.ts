// cache: dm-cache-target.c.
import { statusReader, type ArgReader } from '../args';
import type { DevRef } from '../devref';
import type { TargetBase, TargetDescriptor } from '../types';

/** The `cache` target: a fast device caching a slow one, with a metadata device. */
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

/** Status of a cache target, or its failed state. */
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

// cache_status, STATUSTYPE_INFO (cache.rst "Status"), or "Fail" / "Error".
/** Parses a cache target's status line (cache.rst "Status"), or "Fail" / "Error". */
export function parseCacheStatus(status: string): CacheStatus {
  const word = status.trim();
  if (word === 'Fail' || word === 'Error') return { state: word === 'Fail' ? 'fail' : 'error' };
  const a = statusReader(status);
  const metadataBlockSize = a.u64('metadata block size');
  const [usedMetadataBlocks, totalMetadataBlocks] = a.ratio('metadata blocks');
  const cacheBlockSize = a.u64('cache block size');
  const [usedCacheBlocks, totalCacheBlocks] = a.ratio('cache blocks');
  const out: CacheStatus = {
    state: 'ok',
    metadataBlockSize,
    usedMetadataBlocks,
    totalMetadataBlocks,
    cacheBlockSize,
    usedCacheBlocks,
    totalCacheBlocks,
    readHits: a.u64('read hits'),
    readMisses: a.u64('read misses'),
    writeHits: a.u64('write hits'),
    writeMisses: a.u64('write misses'),
    demotions: a.u64('demotions'),
    promotions: a.u64('promotions'),
    dirty: a.u64('dirty'),
    features: a.list('features'),
    coreArgs: a.list('core args'),
    policy: a.next('policy'),
    policyArgs: a.list('policy args'),
    metadataMode: a.next('metadata mode'),
    needsCheck: a.next('needs_check') === 'needs_check',
  };
  a.end();
  return out;
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
