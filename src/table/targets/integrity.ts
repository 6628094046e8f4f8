// integrity: dm-integrity.c. Its hash/crypt options may carry keys, which are kept in CryptKeys.
import { statusReader, type ArgReader } from '../args';
import type { DevRef } from '../devref';
import { CryptKey } from '../secret';
import type { TargetBase, TargetDescriptor } from '../types';

/** `name[:value]`; for internal_hash, journal_crypt, journal_mac: value is the algorithm and key the optional key. */
export interface IntegrityOption {
  name: string;
  value?: string;
  key?: CryptKey;
}

/** The `integrity` target (dm-integrity): checksums per sector. */
export interface IntegrityTarget extends TargetBase {
  type: 'integrity';
  device: DevRef;
  offset: bigint;
  /** Bytes of tag per sector ('-' is not accepted: give the number). */
  tagSize: number;
  /** J journal, D direct, B bitmap, R recover, I inline. */
  mode: 'J' | 'D' | 'B' | 'R' | 'I';
  /** In the order given; the kernel prints them in an order of its own, which a parse keeps. */
  options: IntegrityOption[];
}

/** Status of an integrity target: checksum mismatches, data sectors, and recalculation progress. */
export interface IntegrityStatus {
  mismatches: bigint;
  providedDataSectors: bigint;
  /** Where recalculation has got to; undefined when not recalculating ("-"). */
  recalculateSector?: bigint;
}

const KEYED = new Set(['internal_hash', 'journal_crypt', 'journal_mac']);

function parseOption(word: string): IntegrityOption {
  const i = word.indexOf(':');
  if (i < 0) return { name: word };
  const name = word.slice(0, i);
  const value = word.slice(i + 1);
  if (!KEYED.has(name)) return { name, value };
  const j = value.indexOf(':');
  return j < 0 ? { name, value } : { name, value: value.slice(0, j), key: CryptKey.parse(value.slice(j + 1)) };
}

function formatOption(o: IntegrityOption, dev: (r: DevRef) => string): string {
  if (o.value === undefined) return o.name;
  const value = o.name === 'meta_device' ? dev(o.value) : o.value;
  return o.key ? `${o.name}:${value}:${o.key.format()}` : `${o.name}:${value}`;
}

// dm_integrity_status, STATUSTYPE_TABLE: "<dev> <offset> <tag size> <mode> <#options>" then " <option>"
// each. STATUSTYPE_INFO: "<mismatches> <provided data sectors> <recalc sector>|-".
export const integrity: TargetDescriptor<IntegrityTarget, IntegrityStatus> = {
  type: 'integrity',
  parse(a: ArgReader) {
    const out = {
      device: a.next('device'),
      offset: a.u64('offset'),
      tagSize: a.u32('tag size'),
      mode: a.oneOf('mode', ['J', 'D', 'B', 'R', 'I'] as const),
      options: a.counted('options').map(parseOption),
    };
    a.end();
    return out;
  },
  format: (t, dev) => [dev(t.device), t.offset, t.tagSize, t.mode, t.options.length, ...t.options.map((o) => formatOption(o, dev))].join(' '),
  parseStatus(status) {
    const a = statusReader(status);
    const out: IntegrityStatus = { mismatches: a.u64('mismatches'), providedDataSectors: a.u64('provided data sectors') };
    const recalc = a.u64OrDash('recalculate sector');
    a.end();
    return recalc === undefined ? out : { ...out, recalculateSector: recalc };
  },
  devices: (t) => [
    { ref: t.device, role: 'device' },
    ...t.options.filter((o) => o.name === 'meta_device' && o.value).map((o) => ({ ref: o.value as string, role: 'metadata device' })),
  ],
  secure: (t) => t.options.some((o) => o.key !== undefined && o.key.kind !== 'none'),
};
