// Kernel spellings a typed parse must keep so that formatting gives the kernel's bytes back.
import { describe, expect, it } from 'vitest';
import { formatTable, parseTable, parseTarget, formatTarget } from '../../src/table';

describe('trailing whitespace the kernel prints', () => {
  it("Debian 6.1's flakey line (a space after every word) round-trips byte for byte; the space is not a typed field", () => {
    const text = '0 4096 flakey 7:0 0 60 0 0 \n4096 4096 flakey 7:0 4096 5 1 5 corrupt_bio_byte 32 w 1 0 \n';
    const parsed = parseTable(text);
    expect(formatTable(parsed)).toBe(text);
    expect(parsed[0]).toEqual({ start: 0n, length: 4096n, type: 'flakey', device: '7:0', offset: 0n, upInterval: 60, downInterval: 0 });
    expect(JSON.stringify(parsed[0], (_, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(' ');
    // Newer kernels print no trailing space: that also round-trips.
    expect(formatTarget(parseTarget(0n, 8n, 'flakey', '7:0 0 60 0 0'))).toBe('7:0 0 60 0 0');
  });

  it("thin-pool's own trailing space is not doubled", () => {
    const text = '0 65536 thin-pool 7:1 7:2 128 16 1 skip_block_zeroing \n';
    expect(formatTable(parseTable(text))).toBe(text);
  });

  it('a copy made by spreading drops the kept spelling and formats canonically', () => {
    const [t] = parseTable('0 8 flakey 7:0 0 60 0 0 \n');
    expect(formatTarget({ ...t })).toBe('7:0 0 60 0 0');
  });
});

describe("flakey's default, as 6.1 and 6.5+ print it", () => {
  it('6.1: a table without features reads back as loaded, "0" and a trailing space', () => {
    const text = '0 4096 flakey 7:0 0 60 0 0 \n';
    expect(parseTable(text)[0]).toEqual({ start: 0n, length: 4096n, type: 'flakey', device: '7:0', offset: 0n, upInterval: 60, downInterval: 0 });
    expect(formatTable(parseTable(text))).toBe(text);
  });

  it('6.5+: the same table reads back with the default spelled out (error_reads error_writes), byte for byte', () => {
    const text = '0 4096 flakey 7:0 0 60 0 2 error_reads error_writes\n';
    expect(parseTable(text)[0]).toEqual({
      start: 0n, length: 4096n, type: 'flakey', device: '7:0', offset: 0n, upInterval: 60, downInterval: 0, errorReads: true, errorWrites: true,
    });
    expect(formatTable(parseTable(text))).toBe(text);
  });

  it('6.5+: every feature in the kernel order (error_reads, drop_writes, corrupt_bio_byte, random_*) round-trips', () => {
    const text = '0 8 flakey 7:0 0 5 1 9 error_reads drop_writes corrupt_bio_byte 32 r 1 0 random_write_corrupt 1000\n';
    const [t] = parseTable(text);
    expect(t).toMatchObject({ errorReads: true, dropWrites: true, randomWriteCorrupt: 1000, corruptBioByte: { nthByte: 32, direction: 'r', value: 1, flags: 0 } });
    expect(formatTable([t])).toBe(text);
  });
});
