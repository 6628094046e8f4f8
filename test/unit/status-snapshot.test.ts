import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInvalid, mergeComplete, mergeProgress, parseStatus, percentFull, type SnapshotStatus } from '../../src/table';

describe('snapshot status', () => {
  it('parses "<allocated>/<total> <metadata>" (snapshot.rst, dmsetup status volumeGroup-snap)', () => {
    expect(parseStatus('snapshot', '397896/2097152 1560')).toEqual({ state: 'active', allocated: 397896n, total: 2097152n, metadata: 1560n });
  });

  it.each([
    ['Invalid', 'invalid'],
    ['Merge failed', 'merge-failed'],
    ['Overflow', 'overflow'],
    ['Unknown', 'unknown'],
  ])('parses the one-word state %s (dm-snap.c snapshot_status)', (word, state) => {
    expect(parseStatus('snapshot', word)).toEqual({ state });
    expect(parseStatus('snapshot-merge', word)).toEqual({ state });
  });

  it('refuses anything else with a TableError naming the target type', () => {
    for (const bad of ['', '1/2', '1/2 3 4', 'invalid', 'x/2 3']) {
      expect(() => parseStatus('snapshot', bad)).toThrow(expect.objectContaining({ name: 'TableError', rule: 'syntax', targetType: 'snapshot' }));
    }
  });

  it('percentFull: allocated over total, undefined without numbers', () => {
    expect(percentFull(parseStatus('snapshot', '397896/2097152 1560'))).toBeCloseTo(18.97, 2); // lvs said Snap% 18.97
    expect(percentFull(parseStatus('snapshot', '2097152/2097152 1560'))).toBe(100);
    expect(percentFull({ state: 'overflow' })).toBeUndefined();
  });

  // snapshot.rst, "How to determine when a merging is complete": successive snapshot-merge statuses.
  const merge = ['281688/2097152 1104', '180480/2097152 712', '16/2097152 16'].map((s) => parseStatus('snapshot-merge', s));

  it('mergeProgress runs from 0 at the first status to 1 at the end (snapshot.rst merge sequence)', () => {
    const initial = (merge[0] as Extract<SnapshotStatus, { state: 'active' }>).allocated;
    expect(mergeProgress(merge[0], initial)).toBe(0);
    expect(mergeProgress(merge[1], initial)).toBeCloseTo((281688 - 180480) / (281688 - 712), 5);
    expect(mergeProgress(merge[2], initial)).toBe(1);
    expect(mergeProgress({ state: 'merge-failed' }, initial)).toBeUndefined();
  });

  it('mergeComplete when allocated == metadata; isInvalid for Invalid and Merge failed', () => {
    expect(merge.map(mergeComplete)).toEqual([false, false, true]);
    expect(mergeComplete({ state: 'invalid' })).toBe(false);
    expect(isInvalid({ state: 'invalid' })).toBe(true);
    expect(isInvalid({ state: 'merge-failed' })).toBe(true);
    expect(isInvalid({ state: 'overflow' })).toBe(false);
    expect(isInvalid(merge[0])).toBe(false);
  });

  it('mergeProgress stays in [0, 1] and does not fall as allocated falls', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 20n }), (initial, a, b, metadata) => {
        const [hi, lo] = a > b ? [a, b] : [b, a];
        const p1 = mergeProgress({ state: 'active', allocated: hi, total: 1n << 41n, metadata }, initial)!;
        const p2 = mergeProgress({ state: 'active', allocated: lo, total: 1n << 41n, metadata }, initial)!;
        // The share of the work done, (initial - allocated) / (initial - metadata), held to [0, 1].
        const want = (allocated: bigint): number => {
          const todo = Number(initial - metadata);
          return todo <= 0 ? 1 : Math.min(1, Math.max(0, Number(initial - allocated) / todo));
        };
        expect(p1).toBeCloseTo(want(hi), 5);
        expect(p2).toBeCloseTo(want(lo), 5);
        expect(p2).toBeGreaterThanOrEqual(p1);
      }),
    );
  });

  it('status text round-trips through the parser for any numbers', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (a, t, m) => {
        expect(parseStatus('snapshot', `${a}/${t} ${m}`)).toEqual({ state: 'active', allocated: a, total: t, metadata: m });
      }),
    );
  });
});
