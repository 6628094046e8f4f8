import { describe, expect, it } from 'vitest';
import { PartitionTableError, readPartitionTable, type PartitionTable } from '../../src/parts';
import { buildMbr, classicMbr as classic, readerOf, writeMbrEntry, type MbrSlot } from '../helpers/parts-image';
import { thrown } from '../helpers/thrown';

const parse = (b: Buffer, size = BigInt(b.length)): PartitionTable => readPartitionTable(readerOf(b), size);

const failure = (f: () => unknown): PartitionTableError => thrown(f, PartitionTableError);

describe('MBR as kpartx reads it', () => {
  it('reads primaries, the extended partition and its logicals, numbered from 5', () => {
    const t = parse(buildMbr(classic));
    expect(t.scheme).toBe('mbr');
    expect(t.diskSectors).toBe(20480n);
    expect(t.diskId).toBe('1234abcd');
    expect(t.notes).toEqual([]);
    expect(t.partitions).toEqual([
      { number: 1, start: 2048n, sectors: 4096n, kind: 'primary', type: '0x83', bootable: true },
      { number: 2, start: 6144n, sectors: 2048n, kind: 'primary', type: '0x82', bootable: false },
      { number: 3, start: 8192n, sectors: 12288n, kind: 'extended', type: '0x05', bootable: false },
      { number: 5, start: 10240n, sectors: 2048n, kind: 'logical', type: '0x83', bootable: false, container: 3 },
      { number: 6, start: 14336n, sectors: 2048n, kind: 'logical', type: '0x8e', bootable: false, container: 3 },
      { number: 7, start: 18432n, sectors: 2048n, kind: 'logical', type: '0x07', bootable: false, container: 3 },
    ]);
  });

  it('keeps slot numbers across empty primary slots', () => {
    const t = parse(buildMbr({ diskSectors: 4096, slots: [null, null, { type: 0x83, start: 2048, sectors: 100 }] }));
    expect(t.partitions.map((p) => p.number)).toEqual([3]);
  });

  it('maps a type-0 entry that has a size, as kpartx does, and says so', () => {
    const t = parse(buildMbr({ diskSectors: 4096, slots: [{ type: 0, start: 2048, sectors: 100 }] }));
    expect(t.partitions).toHaveLength(1);
    expect(t.notes.join()).toMatch(/type 0/);
  });

  it('gives an empty first EBR entry a number, leaving a gap, as kpartx does', () => {
    const b = buildMbr(classic);
    // EBR 1 keeps its link (entry 2) but loses its partition (entry 1).
    writeMbrEntry(b, 8192, 0, null);
    const t = parse(b);
    expect(t.partitions.filter((p) => p.kind === 'logical').map((p) => p.number)).toEqual([6, 7]);
    expect(t.notes.join()).toMatch(/numbers 5–5 are skipped/);
  });

  it('ends the chain at an EBR without signature, keeping the logicals before it', () => {
    const b = buildMbr(classic);
    b[12288 * 512 + 510] = 0;
    const t = parse(b);
    expect(t.partitions.map((p) => p.number)).toEqual([1, 2, 3, 5]);
    expect(t.notes.join()).toMatch(/EBR at sector 12288 has no 0x55AA signature/);
  });

  it('reads an empty extended partition (no EBR signature) as having no logicals', () => {
    const b = buildMbr({ diskSectors: 8192, slots: [{ type: 0x0f, start: 2048, sectors: 4096 }] });
    b.fill(0, 2048 * 512, 2049 * 512);
    expect(parse(b).partitions.map((p) => p.kind)).toEqual(['extended']);
  });
  it('stops after 100 EBRs in a row that hold no partition, as kpartx does', () => {
    const b = buildMbr({ diskSectors: 4096, slots: [{ type: 0x05, start: 2048, sectors: 200 }] });
    for (let i = 0; i < 150; i++) {
      writeMbrEntry(b, 2048 + i, 0, { type: 0x05, start: i + 1, sectors: 1 });
      // An empty entry would take a number (and restart the count): both entries are links.
      writeMbrEntry(b, 2048 + i, 1, { type: 0x05, start: 0, sectors: 0 });
      b.writeUInt16LE(0xaa55, (2048 + i) * 512 + 510);
    }
    const t = parse(b);
    expect(t.partitions.map((p) => p.kind)).toEqual(['extended']);
    expect(t.notes.join()).toMatch(/100 EBRs without a partition/);
  });

  it('stops at the 256 slots of kpartx: 252 logicals at most', () => {
    const logicals = Array.from({ length: 260 }, (_, i) => ({ type: 0x83, ebr: 2048 + 2 * i, start: 2049 + 2 * i, sectors: 1 }));
    const t = parse(buildMbr({ diskSectors: 4096, slots: [{ type: 0x05, start: 2048, sectors: 1024 }], logicals }));
    const numbers = t.partitions.filter((p) => p.kind === 'logical').map((p) => p.number);
    expect([numbers.length, numbers.at(-1)]).toEqual([252, 256]);
    expect(t.notes.join()).toMatch(/256 slots/);
  });
});

describe('damaged MBRs', () => {
  it('a device smaller than a sector: ETRUNC at sector 0', () => {
    const e = failure(() => parse(Buffer.alloc(300)));
    expect([e.code, e.where]).toEqual(['ETRUNC', 'sector 0']);
  });

  it('an image cut short of the size it claims: ETRUNC at the EBR that is missing', () => {
    const b = buildMbr(classic).subarray(0, 10000 * 512);
    const e = failure(() => parse(b, 20480n * 512n));
    expect([e.code, e.where]).toEqual(['ETRUNC', 'EBR at sector 12288']);
  });

  it('no signature and no GPT: ENOTABLE', () => {
    expect(failure(() => parse(Buffer.alloc(8192))).code).toBe('ENOTABLE');
  });

  // One entry of the classic layout changed: [what, sector of the MBR/EBR, entry, new entry, code, where].
  const damaged: [string, number, number, MbrSlot, string, string][] = [
    ['a primary past the end of the disk', 0, 1, { type: 0x83, start: 6144, sectors: 20000 }, 'ERANGE', 'sector 0, entry 2'],
    ['overlapping primaries', 0, 1, { type: 0x83, start: 6000, sectors: 100 }, 'EOVERLAP', 'partitions 1 and 2'],
    ['overlapping logicals', 12288, 0, { type: 0x83, start: 14336 - 12288, sectors: 4097 }, 'EOVERLAP', 'partitions 6 and 7'],
    ['a logical that covers the next EBR', 8192, 0, { type: 0x83, start: 2048, sectors: 2049 }, 'EOVERLAP', 'EBR at sector 12288'],
    ['an EBR link outside the extended partition', 12288, 1, { type: 0x05, start: 12288, sectors: 100 }, 'ERANGE', 'EBR at sector 12288'],
    ['a logical reaching outside the extended partition', 16384, 0, { type: 0x83, start: 2048, sectors: 4000 }, 'ERANGE', 'EBR at sector 16384, entry 1'],
  ];
  for (const [what, sector, entry, e, code, where] of damaged) {
    it(`${what}: ${code} naming ${where}`, () => {
      const b = buildMbr(classic);
      writeMbrEntry(b, sector, entry, e);
      const err = failure(() => parse(b));
      expect([err.code, err.where]).toEqual([code, where]);
    });
  }

  it('a primary that starts at sector 0 (over the MBR): ERANGE', () => {
    const b = buildMbr({ diskSectors: 4096, slots: [{ type: 0x83, start: 0, sectors: 100 }] });
    expect(failure(() => parse(b)).code).toBe('ERANGE');
  });

  it('an EBR chain that loops: ELOOP at the EBR whose link closes the loop', () => {
    const b = buildMbr(classic);
    writeMbrEntry(b, 16384, 1, { type: 0x05, start: 0, sectors: 4096 });
    b.writeUInt32LE(4096, 16384 * 512 + 0x1be + 16 + 8); // link back to 8192 + 4096 = EBR 2
    const err = failure(() => parse(b));
    expect([err.code, err.where]).toEqual(['ELOOP', 'EBR at sector 16384']);
  });

  it('an extended partition smaller than the 2 sectors kpartx maps: ERANGE', () => {
    const b = buildMbr({ diskSectors: 4096, slots: [{ type: 0x05, start: 2048, sectors: 1 }] });
    expect(failure(() => parse(b)).code).toBe('ERANGE');
  });

  it('a protective MBR without any GPT: ENOTABLE (kpartx maps nothing)', () => {
    const b = buildMbr({ diskSectors: 4096, slots: [{ type: 0x83, start: 2048, sectors: 100 }, { type: 0xee, start: 1, sectors: 4095 }] });
    const e = failure(() => parse(b));
    expect(e.code).toBe('ENOTABLE');
    expect(e.message).toMatch(/kpartx maps nothing/);
  });
});
