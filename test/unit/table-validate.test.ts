import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTable, TableError, tableProblems, validateTable, type Target } from '../../src/table';
import type { RawTargetVersion } from '../../src/native';
import { anyTypedTarget } from './table-arbitraries';

const lengths = fc.array(fc.bigInt({ min: 1n, max: 1n << 32n }), { minLength: 1, maxLength: 12 });

function contiguousTable(ls: bigint[]): Target[] {
  let start = 0n;
  return ls.map((length, i) => {
    const t: Target = i % 3 === 0 ? { start, length, type: 'linear', device: '7:0', offset: start } : i % 3 === 1 ? { start, length, type: 'zero' } : { start, length, type: 'dust', params: '7:1 0 512' };
    start += length;
    return t;
  });
}

function catchTableError(f: () => void): TableError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TableError);
    expect(e).toBeInstanceOf(RangeError);
    return e as TableError;
  }
  throw new Error('expected a TableError');
}

describe('validateTable: layout', () => {
  it('random contiguous tables pass', () => {
    fc.assert(fc.property(lengths, (ls) => {
      expect(tableProblems(contiguousTable(ls))).toEqual([]);
    }));
  });

  it('a gap is caught on the line of the target after it', () => {
    fc.assert(
      fc.property(lengths, fc.nat(), fc.bigInt({ min: 1n, max: 1000n }), (ls, k, d) => {
        const table = contiguousTable(ls);
        const i = k % table.length;
        const moved = table.map((t, j) => (j >= i ? { ...t, start: t.start + d } : t));
        const e = catchTableError(() => validateTable(moved));
        expect([e.line, e.rule]).toEqual([i + 1, 'gap']);
      }),
    );
  });

  it('an overlap is caught on the overlapping line', () => {
    fc.assert(
      fc.property(lengths.filter((l) => l.length > 1), fc.nat(), fc.bigInt({ min: 1n, max: 1n << 32n }), (ls, k, d) => {
        const table = contiguousTable(ls);
        const i = 1 + (k % (table.length - 1));
        const back = d > table[i].start ? table[i].start : d;
        const moved = table.map((t, j) => (j >= i ? { ...t, start: t.start - back } : t));
        const e = catchTableError(() => validateTable(moved));
        expect([e.line, e.rule]).toEqual([i + 1, 'overlap']);
      }),
    );
  });

  it('a zero length is caught on its line', () => {
    fc.assert(
      fc.property(lengths, fc.nat(), (ls, k) => {
        const i = k % ls.length;
        const zeroed = contiguousTable(ls.map((l, j) => (j === i ? 0n : l)));
        const e = catchTableError(() => validateTable(zeroed));
        expect([e.line, e.rule]).toEqual([i + 1, 'zero-length']);
      }),
    );
  });

  it('an empty table and a table not starting at 0 are refused', () => {
    expect(catchTableError(() => validateTable([])).rule).toBe('empty-table');
    expect(catchTableError(() => validateTable([{ start: 8n, length: 8n, type: 'zero' }]))).toMatchObject({ line: 1, rule: 'gap' });
  });
});

describe('validateTable: target rules', () => {
  it('snapshot chunk size must be a power of two > 0', () => {
    for (const chunk of [0, 3, 24, 1000]) {
      expect(catchTableError(() => validateTable(parseTable(`0 8 snapshot 7:0 7:1 P ${chunk}`)))).toMatchObject({ line: 1, rule: 'chunk-size' });
    }
    expect(() => validateTable(parseTable('0 8 snapshot 7:0 7:1 P 16'))).not.toThrow();
  });

  it('the COW device must differ from the origin (also when spelled as an object)', () => {
    expect(catchTableError(() => validateTable(parseTable('0 8 snapshot 7:0 7:0 P 16')))).toMatchObject({ rule: 'cow-is-origin' });
    const t: Target = { start: 0n, length: 8n, type: 'snapshot', origin: { major: 7, minor: 0 }, cow: '7:0', store: 'P', chunkSize: 8n };
    expect(catchTableError(() => validateTable([t])).rule).toBe('cow-is-origin');
  });

  it('a snapshot-merge beside a snapshot-origin of the same origin is refused; of another origin it is not', () => {
    const bad = parseTable('0 8 snapshot-origin 254:11\n8 8 snapshot-merge 254:11 254:12 P 16');
    expect(catchTableError(() => validateTable(bad))).toMatchObject({ line: 2, rule: 'merge-beside-origin' });
    expect(() => validateTable(parseTable('0 8 snapshot-origin 254:11\n8 8 snapshot-merge 254:13 254:12 P 16'))).not.toThrow();
  });

  it('a transient store cannot merge; discard_passdown_origin needs discard_zeroes_cow', () => {
    expect(catchTableError(() => validateTable(parseTable('0 8 snapshot-merge 7:0 7:1 N 16'))).rule).toBe('field');
    expect(catchTableError(() => validateTable(parseTable('0 8 snapshot 7:0 7:1 P 16 1 discard_passdown_origin'))).rule).toBe('field');
  });

  it('field rules of other targets (thin-pool block size, striped divisibility, flakey exclusivity)', () => {
    expect(catchTableError(() => validateTable(parseTable('0 8 thin-pool 7:0 7:1 100 0 0')))).toMatchObject({ rule: 'field', message: expect.stringContaining('block size') });
    expect(catchTableError(() => validateTable(parseTable('0 9 striped 2 8 7:0 0 7:1 0')))).toMatchObject({ rule: 'field', message: expect.stringContaining('stripes') });
    expect(catchTableError(() => validateTable(parseTable('0 20 striped 2 8 7:0 0 7:1 0')))).toMatchObject({ rule: 'field', message: expect.stringContaining('chunks') });
    expect(() => validateTable(parseTable('0 48 striped 2 24 7:0 0 7:1 0'))).not.toThrow();
    expect(catchTableError(() => validateTable(parseTable('0 9 flakey 7:0 0 1 1 2 drop_writes error_writes')))).toMatchObject({ rule: 'field' });
  });
});

describe('validateTable: devices', () => {
  const sizes: Record<string, bigint> = { '7:0': 1000n, '7:1': 100n };
  const devices = { sizeOf: (r: string) => sizes[r] };

  it('a missing device is named', () => {
    const e = catchTableError(() => validateTable(parseTable('0 8 linear 7:9 0'), { devices }));
    expect(e).toMatchObject({ line: 1, rule: 'device-missing' });
    expect(e.message).toContain('7:9');
  });

  it('a device too small for offset + length is caught; exactly large enough passes', () => {
    expect(catchTableError(() => validateTable(parseTable('0 500 linear 7:0 501'), { devices }))).toMatchObject({ rule: 'device-too-small' });
    expect(() => validateTable(parseTable('0 500 linear 7:0 500'), { devices })).not.toThrow();
    expect(catchTableError(() => validateTable(parseTable('0 1001 snapshot-origin 7:0'), { devices })).rule).toBe('device-too-small');
    // A COW device only has to exist: its size is read live by the kernel.
    expect(() => validateTable(parseTable('0 1000 snapshot 7:0 7:1 P 8'), { devices })).not.toThrow();
    expect(catchTableError(() => validateTable(parseTable('0 1000 snapshot 7:0 7:2 P 8'), { devices })).rule).toBe('device-missing');
  });

  it('striped checks each stripe for its share of the length', () => {
    expect(() => validateTable(parseTable('0 192 striped 2 8 7:0 0 7:1 4'), { devices })).not.toThrow();
    expect(catchTableError(() => validateTable(parseTable('0 192 striped 2 8 7:0 0 7:1 8'), { devices })).rule).toBe('device-too-small');
  });
});

describe('validateTable: kernel target versions', () => {
  const versions: RawTargetVersion[] = [
    { name: 'snapshot', version: [1, 15, 0] },
    { name: 'snapshot-origin', version: [1, 9, 0] },
    { name: 'linear', version: [1, 4, 0] },
    { name: 'crypt', version: [1, 24, 0] },
  ];

  it('a target type the kernel lacks is named', () => {
    const e = catchTableError(() => validateTable(parseTable('0 8 thin-pool 7:0 7:1 128 0 0'), { versions }));
    expect(e).toMatchObject({ rule: 'unknown-target' });
    expect(e.message).toContain('thin-pool');
  });

  it('without a version list an unknown typed target is still refused, a generic one is not', () => {
    expect(catchTableError(() => validateTable([{ start: 0n, length: 8n, type: 'nonsense', device: '7:0' } as unknown as Target])).rule).toBe('unknown-target');
    expect(() => validateTable([{ start: 0n, length: 8n, type: 'dust', params: '7:0 0 512' }])).not.toThrow();
  });

  it('snapshot discard features need snapshot >= 1.16.0', () => {
    const t = parseTable('0 8 snapshot 7:0 7:1 P 16 1 discard_zeroes_cow');
    const e = catchTableError(() => validateTable(t, { versions }));
    expect(e).toMatchObject({ rule: 'target-version' });
    expect(e.message).toMatch(/1\.16\.0.*1\.15\.0/);
    expect(() => validateTable(t, { versions: [{ name: 'snapshot', version: [1, 16, 0] }] })).not.toThrow();
    expect(() => validateTable(t, { versions: [{ name: 'snapshot', version: [2, 0, 0] }] })).not.toThrow();
  });

  it('crypt high_priority needs 1.25.0, the workqueue switches 1.22.0', () => {
    expect(catchTableError(() => validateTable(parseTable('0 8 crypt aes - 0 7:0 0 1 high_priority'), { versions })).rule).toBe('target-version');
    expect(() => validateTable(parseTable('0 8 crypt aes - 0 7:0 0 1 no_read_workqueue'), { versions })).not.toThrow();
  });

  // LIST_VERSIONS and uname -r of Debian's kernels, read in the rig's guests (DEVMAPPER_RIG_KERNEL).
  const debian = {
    bookworm: { release: '6.1.0-57-amd64', versions: [{ name: 'flakey', version: [1, 5, 0] }, { name: 'crypt', version: [1, 24, 0] }] },
    trixie: { release: '6.12.117+deb13-amd64', versions: [{ name: 'flakey', version: [1, 5, 0] }, { name: 'crypt', version: [1, 27, 0] }] },
    sid: { release: '7.2.13+deb14-amd64', versions: [{ name: 'flakey', version: [1, 5, 0] }, { name: 'crypt', version: [1, 28, 0] }] },
  } satisfies Record<string, { release: string; versions: RawTargetVersion[] }>;

  it.each(['error_reads', 'random_read_corrupt 1000', 'random_write_corrupt 1000'])('flakey %s: refused on 6.1 by the kernel release (flakey stayed 1.5.0), accepted on 6.12 and 7.x', (feature) => {
    const t = parseTable(`0 8 flakey 7:0 0 5 1 ${feature.split(' ').length} ${feature}`);
    const e = catchTableError(() => validateTable(t, { versions: debian.bookworm.versions, kernelRelease: debian.bookworm.release }));
    expect(e).toMatchObject({ rule: 'target-version', line: 1, targetType: 'flakey' });
    expect(e.message).toContain(`${feature.split(' ')[0]} needs Linux 6.5`);
    expect(e.message).toContain('flakey target 1.5.0');
    expect(e.message).toContain('the kernel is 6.1.0-57-amd64');
    for (const k of [debian.trixie, debian.sid]) expect(() => validateTable(t, { versions: k.versions, kernelRelease: k.release })).not.toThrow();
    // Without a release to compare, only the target version is checked.
    expect(() => validateTable(t, { versions: debian.bookworm.versions })).not.toThrow();
  });

  it('crypt high_priority: refused on 6.1 (crypt 1.24.0), accepted on 6.12 and 7.x', () => {
    const t = parseTable('0 8 crypt aes - 0 7:0 0 1 high_priority');
    expect(catchTableError(() => validateTable(t, { versions: debian.bookworm.versions, kernelRelease: debian.bookworm.release })).message)
      .toBe('line 1: crypt: high_priority needs crypt target 1.25.0; the kernel has 1.24.0');
    for (const k of [debian.trixie, debian.sid]) expect(() => validateTable(t, { versions: k.versions, kernelRelease: k.release })).not.toThrow();
  });

  it('every problem is a TableError, collected in line order', () => {
    const problems = tableProblems(parseTable('0 8 snapshot 7:0 7:0 P 3\n16 0 thin 7:2 1'), { versions });
    expect(problems.every((p) => p instanceof TableError)).toBe(true);
    expect(problems.map((p) => [p.line, p.rule])).toEqual([
      [1, 'chunk-size'],
      [1, 'cow-is-origin'],
      [2, 'zero-length'],
      [2, 'gap'],
      [2, 'unknown-target'],
    ]);
  });

  it('typed fields the kernel could not be given are caught, as TableErrors', () => {
    const base = { start: 0n, length: 8n, type: 'linear' as const, device: '7:0' };
    expect(catchTableError(() => validateTable([{ ...base, offset: -1n }]))).toMatchObject({ line: 1, rule: 'syntax' });
    expect(catchTableError(() => validateTable([{ ...base, offset: 5 as unknown as bigint }]))).toMatchObject({ line: 1, rule: 'field' });
    expect(catchTableError(() => validateTable([{ ...base, device: '/dev/my disk', offset: 0n }]))).toMatchObject({ rule: 'syntax' });
    const keyAsString = { start: 0n, length: 8n, type: 'crypt', cipher: 'aes-xts-plain64', key: '00112233445566778899aabbccddeeff', ivOffset: 0n, device: '7:0', offset: 0n };
    const e = catchTableError(() => validateTable([keyAsString as unknown as Target]));
    expect(e.rule).toBe('field');
    expect(e.message).not.toContain('00112233');
  });

  it('no valid typed target is refused for its syntax or field types (no false alarms from the round-trip check)', () => {
    fc.assert(
      fc.property(anyTypedTarget, (t) => {
        const problems = tableProblems([{ ...t, start: 0n }]);
        expect(problems.filter((p) => p.rule === 'syntax' || /expected a/.test(p.message))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('an identify() that throws is reported, not thrown', () => {
    const identify = () => {
      throw new Error('ENOENT: no such file');
    };
    expect(catchTableError(() => validateTable(parseTable('0 8 snapshot /dev/nope 7:1 P 8'), { identify }))).toMatchObject({ rule: 'field', line: 1 });
  });

  it('a non-array is a TypeError, not a generic Error', () => {
    expect(() => validateTable('0 8 zero' as unknown as Target[])).toThrow(TypeError);
  });
});
