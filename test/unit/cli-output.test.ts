// Pure parts of dmctl: JSON with exact bigints, human tables, dmsetup's key hiding, exit codes,
// table input checks, the progress bar's figures and frames.
import { describe, expect, it } from 'vitest';
import { DmError } from '../../src/errors';
import { CliError, Exit, errorLine, exitCodeOf } from '../../src/cli/exit';
import { duration, hideKeys, table, targetLine, toJson } from '../../src/cli/output';
import { figures, Progress, RateMeter, renderBar, renderLine } from '../../src/cli/progress';
import { prepareTable } from '../../src/cli/table-input';
import { TableError } from '../../src/table';

describe('toJson', () => {
  it('writes bigints as exact JSON numbers, beyond 2^53 too', () => {
    expect(toJson({ a: 1n, b: [2n ** 64n - 1n], c: 'x' })).toBe('{\n  "a": 1,\n  "b": [\n    18446744073709551615\n  ],\n  "c": "x"\n}');
    expect(JSON.parse(toJson({ s: 5n }))).toEqual({ s: 5 });
  });

  it('leaves strings that look like the marker alone', () => {
    expect(JSON.parse(toJson({ s: 'big:12' }))).toEqual({ s: 'big:12' });
  });
});

describe('human output', () => {
  it('aligns columns two spaces apart without trailing spaces', () => {
    expect(table(['A', 'LONGER'], [['x', '1'], ['yyyy', '22']])).toBe('A     LONGER\nx     1\nyyyy  22\n');
  });

  it('prints target lines as dmsetup does, keeping the space after a type without params', () => {
    expect(targetLine({ start: 0n, length: 8n, type: 'zero', params: '' })).toBe('0 8 zero ');
    expect(targetLine({ start: 8n, length: 8n, type: 'linear', params: '7:0 0' })).toBe('8 8 linear 7:0 0');
  });

  it('formats durations', () => {
    expect(duration(42)).toBe('42s');
    expect(duration(185)).toBe('3m05s');
    expect(duration(3720)).toBe('1h02m');
    expect(duration(NaN)).toBe('--');
  });
});

describe('hideKeys (dmsetup table without --showkeys)', () => {
  it('zeroes a crypt hex key, keeping its length', () => {
    expect(hideKeys('crypt', 'aes-xts-plain64 00112233aabbccdd 0 7:0 0')).toBe('aes-xts-plain64 0000000000000000 0 7:0 0');
  });

  it('leaves keyring references and other targets alone', () => {
    expect(hideKeys('crypt', 'aes-xts-plain64 :32:logon:my:key 0 7:0 0')).toBe('aes-xts-plain64 :32:logon:my:key 0 7:0 0');
    expect(hideKeys('linear', '7:0 0')).toBe('7:0 0');
    expect(hideKeys('crypt', 'onlyword')).toBe('onlyword');
  });

  it("zeroes integrity's internal_hash, journal_crypt and journal_mac keys, not bare algorithms", () => {
    expect(hideKeys('integrity', '7:0 0 32 J 3 internal_hash:hmac(sha256):abcd journal_crypt:ctr(aes):ef01 journal_mac:hmac(sha256):99'))
      .toBe('7:0 0 32 J 3 internal_hash:hmac(sha256):0000 journal_crypt:ctr(aes):0000 journal_mac:hmac(sha256):00');
    expect(hideKeys('integrity', '7:0 0 32 J 1 internal_hash:crc32c')).toBe('7:0 0 32 J 1 internal_hash:crc32c');
  });
});

describe('exit codes', () => {
  const dmErr = (errno: string, command: string, syscall = 'ioctl', device?: string) =>
    new DmError({ errno: require('node:os').constants.errno[errno], command, syscall, device });

  it('maps each kind of failure to its documented code', () => {
    expect(exitCodeOf(new CliError('x'))).toBe(Exit.USAGE);
    expect(exitCodeOf(new TableError('bad', 'syntax', 1))).toBe(Exit.TABLE);
    expect(exitCodeOf(dmErr('ENXIO', 'DEV_STATUS', 'ioctl', 'x'))).toBe(Exit.NO_DEVICE);
    expect(exitCodeOf(dmErr('EBUSY', 'DEV_REMOVE', 'ioctl', 'x'))).toBe(Exit.BUSY);
    expect(exitCodeOf(dmErr('EBUSY', 'DEV_CREATE', 'ioctl', 'x'))).toBe(Exit.EXISTS);
    expect(exitCodeOf(dmErr('EINVAL', 'TABLE_LOAD', 'ioctl', 'x'))).toBe(Exit.REFUSED);
    expect(exitCodeOf(dmErr('EPERM', 'VERSION'))).toBe(Exit.PERMISSION);
    expect(exitCodeOf(dmErr('ENODEV', 'TABLE_STATUS', 'open', 'x'))).toBe(Exit.NO_DM);
    expect(exitCodeOf(dmErr('ENOENT', 'LOOP_CONFIGURE', 'open', '/no/file'))).toBe(Exit.NO_DEVICE);
    expect(exitCodeOf(dmErr('ECANCELED', 'DEV_WAIT', 'ioctl', 'x'))).toBe(Exit.INTERRUPTED);
    expect(exitCodeOf(new RangeError('device name must not contain /'))).toBe(Exit.USAGE);
    expect(exitCodeOf(Object.assign(new Error('x'), { name: 'OperationError' }))).toBe(Exit.OPERATION);
    expect(exitCodeOf(new Error('other'))).toBe(Exit.FAILURE);
  });

  it('error lines are one line and say what to do when device-mapper is missing', () => {
    expect(errorLine(dmErr('ENODEV', 'VERSION', 'open'))).toMatch(/no device-mapper.*modprobe dm-mod/);
    expect(errorLine(new Error('a\nb'))).toBe('a');
  });
});

describe('prepareTable', () => {
  it('keeps params exactly as written and sums the sectors', () => {
    const t = prepareTable('0 8 linear /dev/loop0   0\n# c\n8 8 zero\n');
    expect(t.raw).toEqual([
      { start: 0n, length: 8n, type: 'linear', params: '/dev/loop0   0' },
      { start: 8n, length: 8n, type: 'zero', params: '' },
    ]);
    expect(t.sectors).toBe(16n);
    expect(t.secure).toBe(false);
  });

  it('refuses malformed tables with the line number before any ioctl', () => {
    expect(() => prepareTable('0 8 linear')).toThrow(/line 1: linear/);
    expect(() => prepareTable('0 8 zero\n16 8 zero')).toThrow(/line 2: zero: .*unmapped/);
    expect(() => prepareTable('zero')).toThrow(TableError);
    expect(() => prepareTable('\n# nothing\n')).toThrow(/no targets/);
  });

  it('marks crypt tables secure; --no-checks leaves parameters to the kernel', () => {
    expect(prepareTable(`0 8 crypt aes-xts-plain64 ${'00'.repeat(32)} 0 7:0 0`).secure).toBe(true);
    expect(prepareTable('0 8 linear', false).raw).toEqual([{ start: 0n, length: 8n, type: 'linear', params: '' }]);
  });
});

describe('progress', () => {
  it('measures the rate over its window and estimates the time left', () => {
    const m = new RateMeter(10_000);
    expect(m.rate()).toBeUndefined();
    m.add(0, 0n);
    m.add(2000, 4n << 20n);
    expect(m.rate()).toBe(2 * 1024 * 1024);
    const f = figures({ done: 4n << 20n, total: 8n << 20n }, m.rate());
    expect(f).toEqual({ fraction: 0.5, rate: 2 * 1024 * 1024, etaSeconds: 2 });
  });

  it('draws a bar with percent, rate and time left', () => {
    const f = { fraction: 0.5, rate: 2 * 1024 * 1024, etaSeconds: 65 };
    expect(renderBar('merge', f, 60)).toBe('merge [##########----------]   50.0%       2M/s  1m05s left');
    expect(renderLine('merge', { done: 4n << 20n, total: 8n << 20n }, f)).toBe('merge: 50.0% (4M of 8M), 2M/s, 1m05s left');
  });

  it('redraws one line on a terminal and writes periodic lines elsewhere', () => {
    let t = 0;
    const tty: string[] = [];
    const p = new Progress({ label: 'm', stream: { write: (s: string) => tty.push(s), columns: 60 }, tty: true, now: () => t });
    p.update({ done: 0n, total: 100n });
    t = 1000;
    p.update({ done: 50n, total: 100n });
    p.end();
    expect(tty.every((s, i) => (i < 2 ? s.startsWith('\r') && s.endsWith('\x1b[K') : s === '\n'))).toBe(true);

    const plain: string[] = [];
    const q = new Progress({ label: 'm', stream: { write: (s: string) => plain.push(s) }, tty: false, lineEveryMs: 2000, now: () => t });
    for (t = 0; t <= 5000; t += 500) q.update({ done: BigInt(t / 100), total: 100n });
    q.update({ done: 100n, total: 100n });
    expect(plain.length).toBe(4); // t=0, 2000, 4000, and the last one at 100%
    expect(plain[3]).toMatch(/^m: 100\.0% \(100B of 100B\)/);
  });
});
