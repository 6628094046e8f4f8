// dmctl monitor's lines and ops.monitor()'s option checks: no kernel needed.
import { describe, expect, it } from 'vitest';
import { eventText } from '../../src/cli/monitor';
import * as ops from '../../src/ops';

describe('dmctl monitor lines', () => {
  it('says each event in one line naming the device', () => {
    expect(eventText({ device: 'vol', type: 'watching', state: 'diverted' })).toBe('vol: watching its COW store (diverted)');
    expect(eventText({ device: 'vol', type: 'warning', threshold: 80, percent: 81.25 })).toBe('vol: COW store 81.3% full (past 80%)');
    expect(eventText({ device: 'vol', type: 'grown', fromBytes: 8n << 20n, toBytes: 16n << 20n, percent: 40.5, tookMs: 120 }))
      .toBe('vol: COW store grown from 8M to 16M in 120 ms, now 40.5% full');
    expect(eventText({ device: 'vol', type: 'cannot-grow', percent: 90, reason: 'no room' })).toBe('vol: COW store 90.0% full and NOT grown: no room');
    expect(eventText({ device: 'vol', type: 'invalid', status: { state: 'invalid' } })).toMatch(/^vol: COW store INVALID: writes to it fail/);
    expect(eventText({ device: 'vol', type: 'fill', percent: 1, allocated: 1n, total: 100n })).toBeUndefined();
  });
});

describe('ops.monitor() options', () => {
  it('refuses bad options before it starts (TypeError / RangeError)', () => {
    expect(() => ops.monitor({ names: 'vol' as unknown as string[] })).toThrow(TypeError);
    expect(() => ops.monitor({ names: [''] })).toThrow(RangeError);
    expect(() => ops.monitor({ rescanMs: 0 })).toThrow(RangeError);
    expect(() => ops.monitor({ thresholds: [0] })).toThrow(RangeError);
    expect(() => ops.monitor({ grow: { at: 150 } })).toThrow(RangeError);
    expect(() => ops.monitor({ grow: { by: '0' } })).toThrow(RangeError);
    expect(() => ops.watchCow('vol', { grow: { max: -1 } })).toThrow(RangeError);
  });
});
