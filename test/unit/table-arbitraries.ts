// fast-check generators of valid typed targets, shared by the table-*.test.ts files.
import fc from 'fast-check';
import { CryptKey, type TypedTarget } from '../../src/table';

export const U64_MAX = (1n << 64n) - 1n;
export const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const devNum = fc.tuple(fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 0, max: 0xfffff })).map(([a, b]) => `${a}:${b}`);
const flag = fc.option(fc.constant(true as const), { nil: undefined });
const pow2 = (maxShift: number, minShift = 0) => fc.integer({ min: minShift, max: maxShift }).map((s) => 2 ** s);
const hexBytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString('hex'));
const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);

export const cryptKey = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => CryptKey.fromBuffer(b)),
  fc.constant(null).map(() => CryptKey.none()),
  fc.tuple(fc.integer({ min: 1, max: 64 }), fc.constantFrom('logon', 'user', 'encrypted', 'trusted'), word).map(([n, t, d]) => CryptKey.keyring(n, t, `cryptsetup:${d}`)),
);

type Fields<T> = Omit<T, 'start' | 'length' | 'type'>;
type Arbs = { [K in TypedTarget['type']]: fc.Arbitrary<Fields<Extract<TypedTarget, { type: K }>>> };

const snapFields = fc.record({
  origin: devNum,
  cow: devNum,
  store: fc.constantFrom('P' as const, 'PO' as const, 'N' as const),
  chunkSize: pow2(20).map(BigInt),
  discardZeroesCow: flag,
  discardPassdownOrigin: flag,
});

const delayPath = fc.record({ device: devNum, offset: u64, delay: u32 });

const VERITY_OPTS = ['ignore_corruption', 'restart_on_corruption', 'panic_on_corruption', 'restart_on_error', 'panic_on_error', 'ignore_zero_blocks', 'check_at_most_once', 'try_verify_in_tasklet'];

export const fieldArbs: Arbs = {
  linear: fc.record({ device: devNum, offset: u64 }),
  striped: fc.record({ chunkSize: fc.bigInt({ min: 1n, max: 1n << 32n }), stripes: fc.array(fc.record({ device: devNum, offset: u64 }), { minLength: 1, maxLength: 6 }) }),
  zero: fc.constant({}),
  error: fc.constant({}),
  'snapshot-origin': fc.record({ origin: devNum }),
  snapshot: snapFields,
  'snapshot-merge': snapFields,
  crypt: fc.record({
    cipher: fc.constantFrom('aes-xts-plain64', 'aes-cbc-essiv:sha256', 'capi:cbc(aes)-plain64', 'serpent-xts-plain64', 'aes-gcm-random'),
    key: cryptKey,
    ivOffset: u64,
    device: devNum,
    offset: u64,
    allowDiscards: flag,
    sameCpuCrypt: flag,
    highPriority: flag,
    submitFromCryptCpus: flag,
    noReadWorkqueue: flag,
    noWriteWorkqueue: flag,
    integrity: fc.option(fc.record({ tagSize: fc.integer({ min: 1, max: 64 }), auth: fc.constantFrom('aead', 'hmac(sha256)', 'none') }), { nil: undefined }),
    sectorSize: fc.option(fc.constantFrom(1024, 2048, 4096), { nil: undefined }),
    ivLargeSectors: flag,
  }),
  flakey: fc
    .record({
      device: devNum,
      offset: u64,
      upInterval: u32,
      downInterval: u32,
      errorReads: flag,
      writes: fc.constantFrom(undefined, 'dropWrites' as const, 'errorWrites' as const),
      corruptBioByte: fc.option(fc.record({ nthByte: fc.integer({ min: 1, max: 0xffffffff }), direction: fc.constantFrom('r' as const, 'w' as const), value: fc.integer({ min: 0, max: 255 }), flags: u32 }), { nil: undefined }),
      randomReadCorrupt: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
      randomWriteCorrupt: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
    })
    .map(({ writes, ...rest }) => (writes ? { ...rest, [writes]: true } : rest)),
  delay: fc.oneof(
    fc.record({ read: delayPath }),
    fc.record({ read: delayPath, write: delayPath }),
    fc.record({ read: delayPath, write: delayPath, flush: delayPath }),
  ),
  'log-writes': fc.record({ device: devNum, logDevice: devNum }),
  'thin-pool': fc.record({
    metadataDevice: devNum,
    dataDevice: devNum,
    blockSize: fc.integer({ min: 1, max: 16384 }).map((n) => BigInt(n * 128)),
    lowWaterMark: u64,
    skipBlockZeroing: flag,
    ignoreDiscard: flag,
    noDiscardPassdown: flag,
    readOnly: flag,
    errorIfNoSpace: flag,
  }),
  thin: fc.record({ poolDevice: devNum, deviceId: fc.integer({ min: 0, max: 2 ** 24 - 1 }), externalOrigin: fc.option(devNum, { nil: undefined }) }),
  mirror: fc.record({
    log: fc.oneof(
      fc.tuple(pow2(20, 1), fc.constantFrom([], ['sync'], ['nosync'])).map(([r, s]) => ({ type: 'core', args: [String(r), ...s] })),
      fc.tuple(devNum, pow2(20, 1), fc.constantFrom([], ['sync'], ['nosync'])).map(([d, r, s]) => ({ type: 'disk', args: [d, String(r), ...s] })),
    ),
    legs: fc.array(fc.record({ device: devNum, offset: u64 }), { minLength: 1, maxLength: 4 }),
    handleErrors: flag,
    keepLog: flag,
  }),
  cache: fc.record({
    metadataDevice: devNum,
    cacheDevice: devNum,
    originDevice: devNum,
    blockSize: fc.integer({ min: 1, max: 32768 }).map((n) => BigInt(n * 64)),
    features: fc.subarray(['writeback', 'metadata2', 'no_discard_passdown']),
    policy: fc.constantFrom('smq', 'mq', 'cleaner', 'default'),
    policyArgs: fc.array(fc.tuple(word, u32.map(String)), { maxLength: 3 }).map((ps) => ps.flat()),
  }),
  verity: fc.record({
    version: fc.constantFrom(0, 1),
    dataDevice: devNum,
    hashDevice: devNum,
    dataBlockSize: pow2(16, 9),
    hashBlockSize: pow2(16, 9),
    dataBlocks: u64,
    hashStart: u64,
    algorithm: fc.constantFrom('sha256', 'sha1', 'sha512'),
    rootDigest: hexBytes(16, 64),
    salt: fc.oneof(fc.constant(''), hexBytes(1, 32)),
    options: fc.array(
      fc.oneof(
        fc.constantFrom(...VERITY_OPTS).map((name) => ({ name, values: [] as string[] })),
        devNum.map((d) => ({ name: 'use_fec_from_device', values: [d] })),
        fc.tuple(fc.constantFrom('fec_roots', 'fec_blocks', 'fec_start'), u64).map(([name, n]) => ({ name, values: [String(n)] })),
        word.map((d) => ({ name: 'root_hash_sig_key_desc', values: [d] })),
      ),
      { maxLength: 5 },
    ),
  }),
  integrity: fc.record({
    device: devNum,
    offset: u64,
    tagSize: fc.integer({ min: 1, max: 64 }),
    mode: fc.constantFrom('J' as const, 'D' as const, 'B' as const, 'R' as const, 'I' as const),
    options: fc.array(
      fc.oneof(
        fc.tuple(fc.constantFrom('journal_sectors', 'interleave_sectors', 'buffer_sectors', 'journal_watermark', 'commit_time', 'block_size', 'sectors_per_bit', 'bitmap_flush_interval'), u32).map(([name, n]) => ({ name, value: String(n) })),
        fc.constantFrom('allow_discards', 'fix_padding', 'recalculate', 'legacy_recalculate', 'fix_hmac').map((name) => ({ name })),
        devNum.map((d) => ({ name: 'meta_device', value: d })),
        fc.tuple(fc.constantFrom('internal_hash', 'journal_crypt', 'journal_mac'), fc.constantFrom('crc32c', 'sha256', 'hmac(sha256)', 'ctr(aes)'), fc.option(fc.uint8Array({ minLength: 1, maxLength: 32 }), { nil: undefined })).map(([name, value, key]) => (key ? { name, value, key: CryptKey.fromBuffer(key) } : { name, value })),
      ),
      { maxLength: 5 },
    ),
  }),
};

export const targetTypes = Object.keys(fieldArbs) as TypedTarget['type'][];

export function targetArb<K extends TypedTarget['type']>(type: K, start = u64, length = fc.bigInt({ min: 1n, max: 1n << 40n })): fc.Arbitrary<TypedTarget> {
  return fc.record({ start, length, fields: fieldArbs[type] as fc.Arbitrary<object> }).map(({ start: s, length: l, fields }) => ({ start: s, length: l, type, ...fields }) as unknown as TypedTarget);
}

export const anyTypedTarget = fc.constantFrom(...targetTypes).chain((t) => targetArb(t));

/** A deep copy where CryptKeys become their table word, so toEqual can compare keys. */
export function plain(v: unknown): unknown {
  if (v instanceof CryptKey) return { cryptKey: v.format() };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, plain(x)]));
  return v;
}
