// verity: dm-verity-target.c (with dm-verity-fec.c's options).
import { isPowerOfTwo, optArgWords, parseOptArgs, statusReader, type ArgReader, type OptArg } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { FieldProblem, TargetBase, TargetDescriptor } from '../types';

/** The `verity` target (dm-verity): a read-only device checked against a hash tree. */
export interface VerityTarget extends TargetBase {
  type: 'verity';
  /** Hash format version: 0 (Chrome OS) or 1. */
  version: number;
  dataDevice: DevRef;
  hashDevice: DevRef;
  /** Bytes. */
  dataBlockSize: number;
  hashBlockSize: number;
  dataBlocks: bigint;
  /** In hash blocks. */
  hashStart: bigint;
  algorithm: string;
  /** Lower-case hex. */
  rootDigest: string;
  /** Lower-case hex; '' is printed as "-". */
  salt: string;
  /**
   * Optional arguments in the order given (the kernel echoes them in an order of its own; keeping
   * the parsed order reproduces it): e.g. {name:'ignore_zero_blocks'}, {name:'fec_roots', values:['2']}.
   */
  options: OptArg[];
}

/** Status of a verity target: whether a corrupted block was seen, and FEC corrections. */
export interface VerityStatus {
  /** false once a corrupted block was seen ("C"). */
  valid: boolean;
  /** Newer kernels: errors corrected by FEC; undefined if not reported or FEC is off ("-"). */
  fecCorrected?: bigint;
}

const VERITY_ARITY = { use_fec_from_device: 1, fec_blocks: 1, fec_start: 1, fec_roots: 1, root_hash_sig_key_desc: 1 };

const hex = (s: string, what: string, allowEmpty: boolean): string => {
  if (allowEmpty && s === '-') return '';
  if (!/^([0-9a-fA-F]{2})+$/.test(s)) throw new TableError(`${what}: expected hex digits`, 'syntax');
  return s.toLowerCase();
};

// verity_status, STATUSTYPE_TABLE: "%u %s %s %u %u %llu %llu %s " digest " " salt|-, then
// " <#words> <words>" when there are optional arguments.
export const verity: TargetDescriptor<VerityTarget, VerityStatus> = {
  type: 'verity',
  parse(a: ArgReader) {
    const out = {
      version: a.u32('version'),
      dataDevice: a.next('data device'),
      hashDevice: a.next('hash device'),
      dataBlockSize: a.u32('data block size'),
      hashBlockSize: a.u32('hash block size'),
      dataBlocks: a.u64('number of data blocks'),
      hashStart: a.u64('hash start block'),
      algorithm: a.next('algorithm'),
      rootDigest: hex(a.next('root digest'), 'root digest', false),
      salt: hex(a.next('salt'), 'salt', true),
      options: parseOptArgs(a.counted('optional arguments'), VERITY_ARITY),
    };
    a.end();
    return out;
  },
  format(t, dev) {
    const opts = t.options.map((o) => (o.name === 'use_fec_from_device' ? { name: o.name, values: [dev(o.values[0])] } : o));
    const words = optArgWords(opts);
    const head = [t.version, dev(t.dataDevice), dev(t.hashDevice), t.dataBlockSize, t.hashBlockSize, t.dataBlocks, t.hashStart, t.algorithm, t.rootDigest, t.salt || '-'].join(' ');
    return words.length ? `${head} ${words.length} ${words.join(' ')}` : head;
  },
  // verity_status, STATUSTYPE_INFO: "V" or "C", then on newer kernels FEC corrections or "-".
  parseStatus(status) {
    const a = statusReader(status);
    const valid = a.oneOf('state', ['V', 'C'] as const) === 'V';
    const fecCorrected = a.remaining ? a.u64OrDash('FEC corrections') : undefined;
    a.end();
    return fecCorrected === undefined ? { valid } : { valid, fecCorrected };
  },
  devices: (t) => [
    { ref: t.dataDevice, role: 'data device', end: (t.dataBlocks * BigInt(t.dataBlockSize)) / 512n },
    { ref: t.hashDevice, role: 'hash device' },
    ...t.options.filter((o) => o.name === 'use_fec_from_device').map((o) => ({ ref: o.values[0], role: 'FEC device' })),
  ],
  check(t) {
    const out: FieldProblem[] = [];
    for (const [what, v] of [['data block size', t.dataBlockSize], ['hash block size', t.hashBlockSize]] as const) {
      if (!isPowerOfTwo(v) || v < 512) out.push({ rule: 'field', message: `${what} ${v} is not a power of two >= 512` });
    }
    if (t.version > 1) out.push({ rule: 'field', message: `hash format version ${t.version} is not 0 or 1` });
    return out;
  },
};
