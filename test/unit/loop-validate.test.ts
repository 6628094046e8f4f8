import { describe, expect, test } from 'vitest';
import { attach, detach, refreshCapacity, setBlockSize, setDirectIo, addDevice, removeDevice } from '../../src/loop';
import { checkBytes, devicePathOf, planAttach } from '../../src/loop/validate';

// A path that would fail with ENOENT if any syscall were reached.
const MISSING = '/nonexistent-dmtest/backing.img';

describe('planAttach', () => {
  test('resolves the file and maps options onto the native config', () => {
    const plan = planAttach('rel.img', { readOnly: true, blockSize: 4096, offset: 1024, sizeLimit: 2048n, size: 4096 });
    expect(plan.file).toBe(`${process.cwd()}/rel.img`);
    expect(plan.size).toBe(4096n);
    expect(plan.config).toEqual({
      readOnly: true, autoclear: false, partscan: false, directIo: false, blockSize: 4096, offset: 1024n, sizeLimit: 2048n,
    });
  });

  test('leaves absent byte options out of the config', () => {
    const plan = planAttach('/x.img');
    expect(plan.size).toBeUndefined();
    expect(plan.config).not.toHaveProperty('offset');
    expect(plan.config).not.toHaveProperty('blockSize');
  });

  test.each([513, 0, 8192, 4095])('rejects block size %d', (blockSize) => {
    expect(() => planAttach('/x.img', { blockSize: blockSize as 512 })).toThrow(RangeError);
  });

  test('rejects a block size that is not a number', () => {
    expect(() => planAttach('/x.img', { blockSize: '512' as unknown as 512 })).toThrow(TypeError);
  });

  test('rejects an empty or NUL-bearing path, and a path that is not a string', () => {
    expect(() => planAttach('')).toThrow(RangeError);
    expect(() => planAttach('a\0b')).toThrow(RangeError);
    expect(() => planAttach(42)).toThrow(TypeError);
  });

  test('rejects unknown options and non-boolean flags', () => {
    expect(() => planAttach('/x.img', { readonly: true } as object)).toThrow(/unknown attach option: readonly/);
    expect(() => planAttach('/x.img', { autoclear: 1 } as object)).toThrow(TypeError);
  });
});

describe('checkBytes', () => {
  test.each([
    ['negative', -512n],
    ['not a multiple of 512', 1000],
    ['fractional', 512.5],
    ['past 2^63-1', 2n ** 63n],
    ['an unsafe integer', 2 ** 60 + 1],
  ])('rejects a value that is %s', (_, value) => {
    expect(() => checkBytes(value, 'offset')).toThrow(RangeError);
  });

  test('accepts zero and multiples of 512 as bigint or number', () => {
    expect(checkBytes(0, 'size')).toBe(0n);
    expect(checkBytes(1536, 'size')).toBe(1536n);
    expect(checkBytes(2n ** 40n, 'size')).toBe(2n ** 40n);
  });

  test('rejects other types', () => {
    expect(() => checkBytes('512', 'size')).toThrow(TypeError);
  });
});

describe('devicePathOf', () => {
  test('maps a number onto its node and keeps a path', () => {
    expect(devicePathOf(3)).toBe('/dev/loop3');
    expect(devicePathOf('/dev/loop7')).toBe('/dev/loop7');
  });

  test('rejects negative or fractional numbers, empty paths and other types', () => {
    expect(() => devicePathOf(-1)).toThrow(RangeError);
    expect(() => devicePathOf(1.5)).toThrow(RangeError);
    expect(() => devicePathOf('')).toThrow(RangeError);
    expect(() => devicePathOf(null)).toThrow(TypeError);
  });
});

describe('public functions validate before any syscall', () => {
  test('attach rejects bad options rather than failing to open the file', async () => {
    await expect(attach(MISSING, { blockSize: 3000 as 512 })).rejects.toThrow(RangeError);
    await expect(attach(MISSING, { offset: 100 })).rejects.toThrow(RangeError);
    await expect(attach(MISSING, { size: -512 })).rejects.toThrow(RangeError);
    await expect(attach('')).rejects.toThrow(RangeError);
  });

  test('device operations reject bad devices and arguments', async () => {
    await expect(detach(-1)).rejects.toThrow(RangeError);
    await expect(detach('')).rejects.toThrow(RangeError);
    await expect(refreshCapacity({} as string)).rejects.toThrow(TypeError);
    await expect(setBlockSize(MISSING, 1000)).rejects.toThrow(RangeError);
    await expect(setDirectIo(MISSING, 'yes' as unknown as boolean)).rejects.toThrow(TypeError);
    await expect(addDevice(-3)).rejects.toThrow(RangeError);
    await expect(removeDevice(2.5)).rejects.toThrow(RangeError);
  });
});
