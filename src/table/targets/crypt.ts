// crypt: dm-crypt.c. The key lives in a CryptKey, which redacts itself everywhere but format().
import { isPowerOfTwo, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import { CryptKey } from '../secret';
import type { FeatureNeed, FieldProblem, TargetBase, TargetDescriptor } from '../types';
import { parseEmptyStatus, type EmptyStatus } from './basic';

type CryptFlag = 'allowDiscards' | 'sameCpuCrypt' | 'highPriority' | 'submitFromCryptCpus' | 'noReadWorkqueue' | 'noWriteWorkqueue';

/** The `crypt` target (dm-crypt): a cipher, a key (a CryptKey), and the device it encrypts. */
export interface CryptTarget extends TargetBase, Partial<Record<CryptFlag, boolean>> {
  type: 'crypt';
  /** e.g. aes-xts-plain64, or capi:... */
  cipher: string;
  key: CryptKey;
  ivOffset: bigint;
  device: DevRef;
  offset: bigint;
  /** integrity:<bytes>:<type> (AEAD or HMAC tag kept by an underlying dm-integrity). */
  integrity?: { tagSize: number; auth: string };
  /** Encryption sector size in bytes (512 when absent). */
  sectorSize?: number;
  ivLargeSectors?: boolean;
}

// crypt_status, STATUSTYPE_TABLE prints the set flags in exactly this order, then integrity,
// sector_size and iv_large_sectors; the count comes first and is left out when nothing is set.
const FLAGS: readonly (readonly [CryptFlag, string])[] = [
  ['allowDiscards', 'allow_discards'],
  ['sameCpuCrypt', 'same_cpu_crypt'],
  ['highPriority', 'high_priority'],
  ['submitFromCryptCpus', 'submit_from_crypt_cpus'],
  ['noReadWorkqueue', 'no_read_workqueue'],
  ['noWriteWorkqueue', 'no_write_workqueue'],
];
const FLAG_BY_WORD = new Map(FLAGS.map(([k, w]) => [w, k]));

export const crypt: TargetDescriptor<CryptTarget, EmptyStatus> = {
  type: 'crypt',
  secure: () => true,
  parse(a: ArgReader) {
    const cipher = a.next('cipher');
    const key = CryptKey.parse(a.next('key'));
    const ivOffset = a.u64('IV offset');
    const device = a.next('device');
    const offset = a.u64('offset');
    const out: Omit<CryptTarget, 'start' | 'length' | 'type'> = { cipher, key, ivOffset, device, offset };
    for (const f of a.counted('optional parameters')) {
      const flag = FLAG_BY_WORD.get(f);
      let m: RegExpExecArray | null;
      if (flag) out[flag] = true;
      else if (f === 'iv_large_sectors') out.ivLargeSectors = true;
      else if ((m = /^integrity:(\d+):(\S+)$/.exec(f))) out.integrity = { tagSize: Number(m[1]), auth: m[2] };
      else if ((m = /^sector_size:(\d+)$/.exec(f))) out.sectorSize = Number(m[1]);
      else throw new TableError(`unknown optional parameter ${JSON.stringify(f)}`, 'syntax');
    }
    a.end();
    return out;
  },
  format(t, dev) {
    const opts = FLAGS.filter(([k]) => t[k]).map(([, w]) => w);
    if (t.integrity) opts.push(`integrity:${t.integrity.tagSize}:${t.integrity.auth}`);
    if (t.sectorSize !== undefined && t.sectorSize !== 512) opts.push(`sector_size:${t.sectorSize}`);
    if (t.ivLargeSectors) opts.push('iv_large_sectors');
    const tail = opts.length ? ` ${opts.length} ${opts.join(' ')}` : '';
    return `${t.cipher} ${t.key.format()} ${t.ivOffset} ${dev(t.device)} ${t.offset}${tail}`;
  },
  // crypt_status, STATUSTYPE_INFO: nothing.
  parseStatus: parseEmptyStatus,
  devices: (t) => [{ ref: t.device, role: 'device', end: t.offset + t.length }],
  check(t) {
    const out: FieldProblem[] = [];
    if (!(t.key instanceof CryptKey)) out.push({ rule: 'field', message: 'key must be a CryptKey' });
    const ss = t.sectorSize;
    if (ss !== undefined && (!isPowerOfTwo(ss) || ss < 512 || ss > 4096)) out.push({ rule: 'field', message: `sector size ${ss} is not a power of two in 512..4096` });
    else if (ss !== undefined && t.length % BigInt(ss / 512) !== 0n) out.push({ rule: 'field', message: `length is not a multiple of the ${ss}-byte sector size` });
    return out;
  },
  features(t) {
    // Versions from the dm-crypt patches that added them (target version bumps 1.21 -> 1.22, 1.24 -> 1.25).
    const out: FeatureNeed[] = [];
    if (t.noReadWorkqueue) out.push({ feature: 'no_read_workqueue', version: [1, 22, 0] });
    if (t.noWriteWorkqueue) out.push({ feature: 'no_write_workqueue', version: [1, 22, 0] });
    if (t.highPriority) out.push({ feature: 'high_priority', version: [1, 25, 0] });
    return out;
  },
};
