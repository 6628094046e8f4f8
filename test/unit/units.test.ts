import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToSectors, formatSize, parseSectors, parseSize, sectorsToBytes } from '../../src/units';

describe('parseSize', () => {
  it.each([
    ['512', 512n],
    ['512B', 512n],
    ['512s', 262144n],
    ['8S', 4096n],
    ['512K', 524288n],
    ['512k', 524288n],
    ['1M', 1048576n],
    ['1G', 1073741824n],
    ['1GiB', 1073741824n],
    ['1.5G', 1610612736n],
    ['0.5K', 512n],
    ['2T', 2n << 40n],
    [' 4M ', 4194304n],
  ])('%s is %s bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('takes a percentage of a given size, rounded down to whole sectors', () => {
    expect(parseSize('10%', { of: 10240n })).toBe(1024n);
    expect(parseSize('50%', { of: 1000n })).toBe(0n);
    expect(parseSize('12.5%', { of: 1n << 30n })).toBe(1n << 27n);
    expect(parseSize('100%', { of: 4096n })).toBe(4096n);
  });

  it('refuses bad input with RangeError or TypeError', () => {
    for (const bad of ['', 'abc', '-1', '1.5', '1X', '1.0001K', '1e3', '101%']) expect(() => parseSize(bad, { of: 100n })).toThrow(RangeError);
    expect(() => parseSize('10%')).toThrow(TypeError);
    expect(() => parseSize(-1)).toThrow(RangeError);
    expect(() => parseSize(1.5)).toThrow(RangeError);
    expect(() => parseSize(null as unknown as string)).toThrow(TypeError);
    expect(parseSize(4096)).toBe(4096n);
    expect(parseSize(4096n)).toBe(4096n);
  });
});

describe('sectors', () => {
  it('bytesToSectors is exact by default and rounds when asked', () => {
    expect(bytesToSectors(1024n)).toBe(2n);
    expect(() => bytesToSectors(1000n)).toThrow(RangeError);
    expect(bytesToSectors(1000n, 'down')).toBe(1n);
    expect(bytesToSectors(1000n, 'up')).toBe(2n);
    expect(() => bytesToSectors(-512n)).toThrow(RangeError);
    expect(() => bytesToSectors(512 as unknown as bigint)).toThrow(TypeError);
  });

  it('sectorsToBytes inverts bytesToSectors', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 60n }), (s) => {
        expect(bytesToSectors(sectorsToBytes(s))).toBe(s);
      }),
    );
  });

  it('parseSectors reads "Ns" as sectors directly and other sizes through bytes', () => {
    expect(parseSectors('2097152s')).toBe(2097152n);
    expect(parseSectors('1G')).toBe(2097152n);
    expect(() => parseSectors('1000')).toThrow(RangeError);
  });
});

describe('formatSize', () => {
  it.each([
    [0n, '0B'],
    [512n, '512B'],
    [1024n, '1K'],
    [1536n, '1.5K'],
    [524283n, '512.0K'],
    [1610612736n, '1.5G'],
    [1n << 40n, '1T'],
    [1000000n, '976.56K'],
  ])('%s bytes is %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it('exact sizes parse back to the same bytes', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 20n }), fc.integer({ min: 0, max: 6 }), (n, unit) => {
        const bytes = n << BigInt(10 * unit);
        const text = formatSize(bytes);
        if (!text.includes('.')) expect(parseSize(text)).toBe(bytes);
      }),
    );
  });
});
