import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTarget, parseTarget, type TypedTarget } from '../../src/table';
import { plain, targetArb, targetTypes } from './table-arbitraries';

describe('typed targets: format then parse gives the same target', () => {
  for (const type of targetTypes) {
    it(`${type}: parse(format(t)) equals t and formats to the same params`, () => {
      fc.assert(
        fc.property(targetArb(type), (t) => {
          const params = formatTarget(t);
          const back = parseTarget(t.start, t.length, t.type, params) as TypedTarget;
          expect(plain(back)).toEqual(plain(t));
          expect(formatTarget(back)).toBe(params);
        }),
        { numRuns: 200 },
      );
    });
  }
});

// Kernel table lines. Device paths in the doc examples are written as the kernel echoes them
// (major:minor); where a doc line only gives the constructor form, the canonical echo is derived from
// the STATUSTYPE_TABLE branch named beside it.
const CANONICAL: [type: string, params: string, source: string][] = [
  ['linear', '8:19 384', 'snapshot.rst, "dmsetup table" of volumeGroup-base-real'],
  ['linear', '8:19 2097536', 'snapshot.rst, volumeGroup-snap-cow'],
  ['snapshot', '254:11 254:12 P 16', 'snapshot.rst, volumeGroup-snap'],
  ['snapshot-origin', '254:11', 'snapshot.rst, volumeGroup-base'],
  ['snapshot-merge', '254:11 254:12 P 16', 'snapshot.rst, merging volumeGroup-base'],
  ['snapshot', '7:0 7:1 PO 8 2 discard_zeroes_cow discard_passdown_origin', 'dm-snap.c snapshot_status: features counted, fixed order'],
  ['snapshot', '7:0 7:1 N 32 1 discard_zeroes_cow', 'dm-snap-transient.c transient_status " N %llu"'],
  ['striped', '2 256 8:16 0 8:32 0', 'striped.rst layout, dm-stripe.c stripe_status'],
  ['zero', '', 'zero.rst'],
  ['error', '', 'dm-target.c io_err_status (no params)'],
  ['crypt', 'aes-cbc-essiv:sha256 babebabebabebabebabebabebabebabe 0 8:1 0', 'dm-crypt.rst example (device as major:minor)'],
  ['crypt', 'aes-xts-plain64 :64:logon:cryptsetup:b6f0a4ec 0 253:3 32768 2 allow_discards sector_size:4096', 'dm-crypt.c crypt_status keyring form ":%u:%s"'],
  ['crypt', 'capi:gcm(aes)-random 00112233445566778899aabbccddeeff 0 7:0 0 3 no_read_workqueue no_write_workqueue integrity:28:aead', 'dm-crypt.c crypt_status order'],
  ['flakey', '8:16 0 4 1 0', 'dm-flakey.rst parameters; flakey_status prints the count even when 0'],
  ['flakey', '8:16 0 4 1 5 corrupt_bio_byte 32 r 1 0', 'dm-flakey.rst "Replaces the 32nd byte of READ bios with the value 1"'],
  ['flakey', '8:16 0 4 1 6 drop_writes corrupt_bio_byte 224 w 0 32', 'dm-flakey.rst REQ_META example'],
  ['flakey', '8:16 0 0 5 3 error_reads random_read_corrupt 500000000', 'dm-flakey.c flakey_status'],
  ['delay', '8:16 0 500', 'delay.rst "delay $1 0 500"'],
  ['delay', '8:16 0 0 8:32 0 500', 'delay.rst "delay $1 0 0 $2 0 500"'],
  ['delay', '8:16 0 50 8:16 0 100 8:16 0 333', 'delay.rst three-path form'],
  ['log-writes', '8:16 8:32', 'log-writes.rst "log-writes /dev/sdb /dev/sdc"'],
  ['thin-pool', '253:0 253:1 128 32768 0 ', 'thin-provisioning.rst create pool; emit_flags "%u " leaves a trailing space'],
  ['thin-pool', '7:1 7:2 128 32768 1 skip_block_zeroing ', 'dm-thin.c emit_flags'],
  ['thin-pool', '7:1 7:2 1024 0 3 ignore_discard no_discard_passdown error_if_no_space ', 'dm-thin.c emit_flags order'],
  ['thin', '253:2 0', 'thin-provisioning.rst "thin /dev/mapper/pool 0"'],
  ['thin', '253:2 1 7:5', 'thin-provisioning.rst external origin "thin /dev/mapper/pool 0 /dev/image"'],
  ['mirror', 'core 1 1024 2 8:16 0 8:32 0 1 handle_errors', 'dm-raid1.c mirror_status with dm-log.c core_status'],
  ['mirror', 'disk 2 8:48 1024 2 8:16 0 8:32 0', 'dm-log.c disk_status "%s %u %s %u "'],
  ['mirror', 'core 2 512 nosync 3 8:16 0 8:32 0 8:48 0 2 handle_errors keep_log', 'dm-log.c DMEMIT_SYNC'],
  ['cache', '253:0 253:1 253:2 512 1 writeback default 0', 'cache.rst example (devices as major:minor)'],
  ['cache', '253:0 253:1 253:2 1024 1 writeback mq 4 sequential_threshold 1024 random_threshold 8', 'cache.rst second example'],
  ['verity', '1 8:1 8:2 4096 4096 262144 1 sha256 4392712ba01368efdf14b05c76f9e4df0d53664630b5d48632ed17a137f39076 1234000000000000000000000000000000000000000000000000000000000000', 'verity.rst example'],
  ['verity', '1 8:0 8:0 4096 4096 7680 7681 sha256 c51e171a1403eda7636c89f10d90066d6a593223399fdd4c36ab214da3c6fc11 f6c6c6b6cbdf2682d6213e65b0e577cb57c8af3015f88f9a40fb512eaf48aca9', 'verity example with data and hash on one device'],
  ['verity', '1 8:1 8:2 4096 4096 262144 1 sha256 4392712ba01368efdf14b05c76f9e4df0d53664630b5d48632ed17a137f39076 - 9 ignore_zero_blocks use_fec_from_device 8:3 fec_start 262144 fec_blocks 264192 fec_roots 2', 'verity.rst FEC options'],
  ['integrity', '8:16 0 4 J 6 journal_sectors:16368 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 internal_hash:crc32c', 'dm-integrity.rst options as dm_integrity_status prints them'],
  ['integrity', '8:16 0 32 B 3 meta_device:8:32 block_size:4096 internal_hash:hmac(sha256):00112233445566778899aabbccddeeff', 'dm-integrity.rst keyed hash'],
];

describe('canonical kernel table lines', () => {
  for (const [type, params, source] of CANONICAL) {
    it(`${type}: "${params.slice(0, 40)}..." round-trips byte for byte (${source})`, () => {
      const t = parseTarget(0n, 2097152n, type, params);
      expect('params' in t).toBe(false);
      expect(formatTarget(t)).toBe(params);
    });
  }

  it('snapshot fields come out named', () => {
    expect(parseTarget(0n, 2097152n, 'snapshot', '254:11 254:12 PO 16 1 discard_zeroes_cow')).toEqual({
      start: 0n, length: 2097152n, type: 'snapshot', origin: '254:11', cow: '254:12', store: 'PO', chunkSize: 16n, discardZeroesCow: true,
    });
  });

  it('lower-case store letters (accepted by the kernel) format as it echoes them', () => {
    expect(formatTarget(parseTarget(0n, 8n, 'snapshot', '7:0 7:1 p 8'))).toBe('7:0 7:1 P 8');
  });

  it('crypt keys and verity digests in upper case format as the kernel prints them (lower case)', () => {
    expect(formatTarget(parseTarget(0n, 8n, 'crypt', 'aes-xts-plain64 ABCDEF0123456789ABCDEF0123456789 0 7:0 0'))).toBe('aes-xts-plain64 abcdef0123456789abcdef0123456789 0 7:0 0');
  });

  it('thin-pool features in any order format in the kernel order, with the trailing space', () => {
    expect(formatTarget(parseTarget(0n, 8n, 'thin-pool', '7:1 7:2 128 0 2 error_if_no_space skip_block_zeroing'))).toBe('7:1 7:2 128 0 2 skip_block_zeroing error_if_no_space ');
  });

  it('flakey with no feature count formats with the count 0 the kernel prints', () => {
    expect(formatTarget(parseTarget(0n, 8n, 'flakey', '8:16 0 4 1'))).toBe('8:16 0 4 1 0');
  });

  it('crypt sector_size:512 is the default and is not echoed', () => {
    expect(formatTarget(parseTarget(0n, 8n, 'crypt', 'aes-xts-plain64 - 0 7:0 0 1 sector_size:512'))).toBe('aes-xts-plain64 - 0 7:0 0');
  });

  it('devices given as paths or objects format as major:minor', () => {
    const stat = (p: string) => {
      if (p !== '/dev/loop3') throw new Error('unexpected');
      return { rdev: (7n << 8n) | 3n, isBlockDevice: () => true };
    };
    const dev = (r: string | { major: number; minor: number }) => (typeof r === 'object' ? `${r.major}:${r.minor}` : /^\d+:\d+$/.test(r) ? r : ((s) => `${(s.rdev >> 8n) & 0xfffn}:${s.rdev & 0xffn}`)(stat(r)));
    expect(formatTarget({ start: 0n, length: 8n, type: 'linear', device: '/dev/loop3', offset: 0n }, { dev })).toBe('7:3 0');
    expect(formatTarget({ start: 0n, length: 8n, type: 'linear', device: { major: 253, minor: 4 }, offset: 9n })).toBe('253:4 9');
  });

  it('bad parameters name the field and the rule', () => {
    expect(() => parseTarget(0n, 8n, 'linear', '7:0')).toThrow(expect.objectContaining({ rule: 'syntax', message: expect.stringContaining('offset') }));
    expect(() => parseTarget(0n, 8n, 'snapshot', '7:0 7:1 X 8')).toThrow(/store/);
    expect(() => parseTarget(0n, 8n, 'snapshot', '7:0 7:1 P 8 1 bogus')).toThrow(/bogus/);
    expect(() => parseTarget(0n, 8n, 'striped', '2 8 7:0 0')).toThrow(/stripe 1 device/);
    expect(() => parseTarget(0n, 8n, 'zero', 'x')).toThrow(/trailing/);
    expect(() => parseTarget(0n, 8n, 'thin-pool', '7:1 7:2 128 0 3 read_only')).toThrow(/count 3/);
  });

  it('unknown types stay generic, params untouched', () => {
    expect(parseTarget(0n, 8n, 'dust', '8:16 0 512 ')).toEqual({ start: 0n, length: 8n, type: 'dust', params: '8:16 0 512 ' });
  });

  it('the generic option keeps known types generic; fallback keeps unparsable ones generic', () => {
    expect(parseTarget(0n, 8n, 'linear', '7:0 0', { generic: ['linear'] })).toEqual({ start: 0n, length: 8n, type: 'linear', params: '7:0 0' });
    expect(parseTarget(0n, 8n, 'thin-pool', '7:1 7:2 128 0 1 future_flag ', { fallback: true })).toEqual({ start: 0n, length: 8n, type: 'thin-pool', params: '7:1 7:2 128 0 1 future_flag ' });
    // Never generic for crypt (the params string would hold the key), and the bad word is not echoed.
    expect(() => parseTarget(0n, 8n, 'crypt', 'aes 00 0 7:0 0 1 future_flag', { fallback: true })).toThrow(/unknown optional parameter <redacted>/);
  });
});
