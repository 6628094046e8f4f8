import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTable, fromRawTargets, needsSecureData, parseTable, toRawTargets, type Target } from '../../src/table';
import type { RawTarget } from '../../src/native';
import { anyTypedTarget, plain } from './table-arbitraries';

/** Targets laid end to end from sector 0, as a loadable table is. */
const contiguous = (targets: Target[]): Target[] => {
  let start = 0n;
  return targets.map((t) => {
    const out = { ...t, start };
    start += t.length;
    return out;
  });
};

const genericTarget = fc.record({
  type: fc.constantFrom('dust', 'era', 'switch', 'unstriped', 'writecache', 'raid'),
  length: fc.bigInt({ min: 1n, max: 1n << 40n }),
  params: fc.array(fc.stringMatching(/^[A-Za-z0-9:_.-]{1,10}$/), { maxLength: 6 }).chain((w) => fc.constantFrom(w.join(' '), w.length ? `${w.join(' ')} ` : '')),
}).map((g) => ({ start: 0n, ...g }));

const tableArb = fc.array(fc.oneof(anyTypedTarget, genericTarget), { minLength: 1, maxLength: 8 }).map(contiguous);

describe('table text', () => {
  it('formatTable(parseTable(text)) == text for every formatted table (typed and generic targets)', () => {
    fc.assert(
      fc.property(tableArb, (table) => {
        const text = formatTable(table);
        const back = parseTable(text);
        expect(formatTable(back)).toBe(text);
        expect(plain(back)).toEqual(plain(table));
      }),
      { numRuns: 300 },
    );
  });

  it('RawTarget[] from the kernel converts to a table and back unchanged', () => {
    fc.assert(
      fc.property(tableArb, (table) => {
        const raw = toRawTargets(table);
        expect(toRawTargets(fromRawTargets(raw))).toEqual(raw);
      }),
      { numRuns: 300 },
    );
  });

  it('reads dmsetup table output (snapshot.rst), trailing spaces of thin-pool and empty params included', () => {
    // snapshot.rst, "dmsetup table|grep volumeGroup" (names stripped: dmsetup table <name> prints just this).
    const text = '0 2097152 linear 8:19 384\n';
    expect(formatTable(parseTable(text))).toBe(text);
    const pool = '0 20971520 thin-pool 253:0 253:1 128 32768 1 skip_block_zeroing \n';
    expect(formatTable(parseTable(pool))).toBe(pool);
    const zero = '0 100 zero \n100 50 error \n';
    expect(formatTable(parseTable(zero))).toBe(zero);
  });

  it('skips blank and comment lines but counts them in error line numbers', () => {
    const text = '# a comment\n\n0 8 linear 7:0 0\n8 8 linear 7:0\n';
    expect(() => parseTable(text)).toThrow(expect.objectContaining({ line: 4, rule: 'syntax', targetType: 'linear' }));
    expect(parseTable('# only\r\n0 8 zero\r\n')).toEqual([{ start: 0n, length: 8n, type: 'zero' }]);
  });

  it('names the line of a malformed start, length or type', () => {
    expect(() => parseTable('0 8 zero\nx 8 zero')).toThrow(expect.objectContaining({ line: 2, rule: 'syntax', message: expect.stringContaining('start') }));
    expect(() => parseTable('0 8')).toThrow(expect.objectContaining({ line: 1, rule: 'syntax' }));
    expect(() => parseTable('0 -8 zero')).toThrow(expect.objectContaining({ line: 1, message: expect.stringContaining('length') }));
  });

  it('toRawTargets gives the ioctl shape', () => {
    const raw: RawTarget[] = toRawTargets(parseTable('0 2097152 snapshot 254:11 254:12 P 16'));
    expect(raw).toEqual([{ start: 0n, length: 2097152n, type: 'snapshot', params: '254:11 254:12 P 16' }]);
  });

  it('tables with a crypt key, or an integrity key, need the secure-data flag; others do not', () => {
    expect(needsSecureData(parseTable('0 8 crypt aes-xts-plain64 00112233445566778899aabbccddeeff 0 7:0 0'))).toBe(true);
    expect(needsSecureData([{ start: 0n, length: 8n, type: 'crypt', params: 'aes - 0 7:0 0' }])).toBe(true);
    expect(needsSecureData(parseTable('0 8 integrity 7:0 0 32 J 1 internal_hash:hmac(sha256):0011'))).toBe(true);
    expect(needsSecureData(parseTable('0 8 integrity 7:0 0 4 J 1 internal_hash:crc32c'))).toBe(false);
    expect(needsSecureData(parseTable('0 8 linear 7:0 0\n8 8 zero'))).toBe(false);
  });
});
