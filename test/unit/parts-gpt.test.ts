import { describe, expect, it } from 'vitest';
import { PartitionTableError, readPartitionTable, type PartitionTable } from '../../src/parts';
import { ESP, LINUX_FS, buildGpt, gptLayout, readerOf, resealGpt, resealGptHeader, type GptSpec } from '../helpers/parts-image';
import { thrown } from '../helpers/thrown';

const named: GptSpec = {
  diskSectors: 8192,
  diskGuid: 'a1b2c3d4-e5f6-4789-8abc-def012345678',
  partitions: [
    { index: 0, type: ESP, uuid: '01234567-89ab-4cde-8f01-23456789abcd', first: 2048, last: 4095, name: 'EFI system' },
    { index: 1, type: LINUX_FS, first: 4096, last: 6143, name: 'données 日本語 💾' },
    { index: 3, type: LINUX_FS, first: 6144, last: 8158 },
  ],
};
const last = 8191;

const parse = (b: Buffer, o: { sectorSize?: 512 | 4096; forceGpt?: boolean } = {}, size = BigInt(b.length)): PartitionTable =>
  readPartitionTable(readerOf(b), size, o);

const failure = (f: () => unknown): PartitionTableError => thrown(f, PartitionTableError);

describe('GPT as kpartx reads it', () => {
  it('reads named partitions, numbered by entry index, with their GUIDs', () => {
    const t = parse(buildGpt(named));
    expect(t.scheme).toBe('gpt');
    expect(t.diskId).toBe('a1b2c3d4-e5f6-4789-8abc-def012345678');
    expect(t.notes).toEqual([]);
    expect(t.partitions).toEqual([
      { number: 1, start: 2048n, sectors: 2048n, kind: 'gpt', type: ESP, uuid: '01234567-89ab-4cde-8f01-23456789abcd', name: 'EFI system' },
      { number: 2, start: 4096n, sectors: 2048n, kind: 'gpt', type: LINUX_FS, uuid: '00000000-0000-4000-8000-000000000002', name: 'données 日本語 💾' },
      { number: 4, start: 6144n, sectors: 2015n, kind: 'gpt', type: LINUX_FS, uuid: '00000000-0000-4000-8000-000000000004' },
    ]);
  });

  it('reads a 36-unit name that fills its field (no terminator)', () => {
    const name = 'x'.repeat(35) + 'é';
    const t = parse(buildGpt({ diskSectors: 4096, partitions: [{ index: 0, type: LINUX_FS, first: 2048, last: 3000, name }] }));
    expect(t.partitions[0]!.name).toBe(name);
  });

  it('counts 4Kn LBAs in 512-byte sectors, as kpartx does (sector_size/512)', () => {
    const b = buildGpt({ diskSectors: 1024, sectorSize: 4096, partitions: [{ index: 0, type: LINUX_FS, first: 256, last: 511 }] });
    const t = parse(b, { sectorSize: 4096 });
    expect(t.diskSectors).toBe(8192n);
    expect(t.partitions[0]).toMatchObject({ start: 2048n, sectors: 2048n });
  });

  it('reads the GPT under a hybrid MBR and ignores the MBR slots, noting it', () => {
    const t = parse(buildGpt({ ...named, mbr: [{ type: 0x0c, start: 2048, sectors: 2048 }] }));
    expect(t.scheme).toBe('gpt');
    expect(t.notes.join()).toMatch(/hybrid MBR/);
  });

  it('ignores a valid GPT under an MBR without a 0xEE slot (reads the MBR), unless forced like kpartx -g', () => {
    const b = buildGpt({ ...named, mbr: 'none' });
    const t = parse(b);
    expect([t.scheme, t.partitions.length]).toEqual(['mbr', 0]);
    expect(t.notes.join()).toMatch(/not protective/);
    const forced = parse(b, { forceGpt: true });
    expect([forced.scheme, forced.partitions.length]).toEqual(['gpt', 3]);
  });

  it('a bad primary header CRC: uses the backup at the last LBA and says so', () => {
    const b = buildGpt(named);
    b[512 + 50] ^= 0xff;
    const t = parse(b);
    expect(t.partitions.map((p) => p.number)).toEqual([1, 2, 4]);
    expect(t.notes).toHaveLength(1);
    expect(t.notes[0]).toMatch(/primary GPT header is invalid \(GPT header at LBA 1: the header CRC-32 does not match\): using the backup at LBA 8191/);
  });

  it('a bad primary entry-array CRC: uses the backup and says so', () => {
    const b = buildGpt(named);
    b[2 * 512 + 32] ^= 1;
    const t = parse(b);
    expect(t.partitions[0]!.start).toBe(2048n);
    expect(t.notes[0]).toMatch(/GPT entry array at LBA 2: the CRC-32 of the entry array .* using the backup/);
  });

  it('a bad backup: uses the primary and says so', () => {
    const b = buildGpt(named);
    b[last * 512 + 20] ^= 1;
    expect(parse(b).notes[0]).toMatch(/backup GPT header is invalid .*LBA 8191.*using the primary/);
  });

  it('both headers bad: ECRC naming the primary header', () => {
    const b = buildGpt(named);
    b[512 + 50] ^= 0xff;
    b[last * 512 + 50] ^= 0xff;
    const e = failure(() => parse(b));
    expect([e.code, e.where]).toEqual(['ECRC', 'GPT header at LBA 1']);
    expect(e.message).toMatch(/backup: GPT header at LBA 8191/);
  });

  it('both entry arrays bad: ECRC naming the primary entry array', () => {
    const b = buildGpt(named);
    const L = gptLayout(named);
    b[2 * 512 + 40] ^= 1;
    b[(L.lastLba - L.entryLbas) * 512 + 40] ^= 1;
    const e = failure(() => parse(b));
    expect([e.code, e.where]).toEqual(['ECRC', 'GPT entry array at LBA 2']);
  });

  it('an entry size other than 128: EFORMAT in both headers, the backup when only the primary has it', () => {
    const b = buildGpt(named);
    b.writeUInt32LE(256, 512 + 84);
    resealGptHeader(b, 1);
    expect(parse(b).notes[0]).toMatch(/partition entry size is 256, not 128/);
    b.writeUInt32LE(256, last * 512 + 84);
    resealGptHeader(b, last);
    const e = failure(() => parse(b));
    expect([e.code, e.where]).toEqual(['EFORMAT', 'GPT header at LBA 1']);
  });

  it('an image cut short: the backup is missing, the primary is used, and this is noted', () => {
    const b = buildGpt(named).subarray(0, 4096 * 512);
    const t = parse(b, {}, 8192n * 512n);
    expect(t.partitions).toHaveLength(3);
    expect(t.notes[0]).toMatch(/backup GPT header is invalid .*returned 0 of 512 bytes/);
  });

  it('a partition past the usable area or the disk: ERANGE naming the entry', () => {
    for (const lastLba of [8159, 9000]) {
      const b = buildGpt({ ...named, partitions: [named.partitions[0]!, { index: 1, type: LINUX_FS, first: 4096, last: lastLba }] });
      const e = failure(() => parse(b));
      expect([e.code, e.where]).toEqual(['ERANGE', 'GPT entry 2']);
    }
  });

  it('an entry that ends before it starts: ERANGE', () => {
    const b = buildGpt({ ...named, partitions: [{ index: 4, type: LINUX_FS, first: 4096, last: 4000 }] });
    const e = failure(() => parse(b));
    expect([e.code, e.where]).toEqual(['ERANGE', 'GPT entry 5']);
  });

  it('overlapping partitions: EOVERLAP naming both', () => {
    const b = buildGpt({ ...named, partitions: [{ index: 0, type: LINUX_FS, first: 2048, last: 5000 }, { index: 5, type: LINUX_FS, first: 5000, last: 6000 }] });
    const e = failure(() => parse(b));
    expect([e.code, e.where]).toEqual(['EOVERLAP', 'partitions 1 and 6']);
  });

  it('ignores used entries beyond kpartx\'s 256 slots, noting it', () => {
    const b = buildGpt({ diskSectors: 8192, numEntries: 512, partitions: [{ index: 0, type: LINUX_FS, first: 2048, last: 2999 }, { index: 300, type: LINUX_FS, first: 3000, last: 3999 }] });
    const t = parse(b);
    expect(t.partitions.map((p) => p.number)).toEqual([1]);
    expect(t.notes.join()).toMatch(/256 slots/);
  });

  it('a header whose my_lba is wrong is invalid (the backup is used)', () => {
    const b = buildGpt(named);
    b.writeBigUInt64LE(7n, 512 + 24);
    resealGpt(b, 1);
    expect(parse(b).notes[0]).toMatch(/says it is at LBA 7/);
  });
});
