// Writes MBR (with extended/logical partitions) and GPT images into a Buffer, CRCs included,
// for the partition-table readers' tests. Sizes and starts are in logical sectors.
import { crc32Portable } from '../../src/parts/crc32';

export interface MbrSlot { type: number; start: number; sectors: number; bootable?: boolean }
export interface Logical { type: number; /** absolute sector of its EBR */ ebr: number; /** absolute start */ start: number; sectors: number }
export interface MbrSpec {
  diskSectors: number;
  diskId?: number;
  /** up to 4; null or missing = empty slot */
  slots: (MbrSlot | null)[];
  /** logicals of the extended partition in `slots`, in chain order */
  logicals?: Logical[];
}

export function writeMbrEntry(b: Buffer, sector: number, i: number, e: MbrSlot | null, sectorSize = 512): void {
  const o = sector * sectorSize + 0x1be + 16 * i;
  b.fill(0, o, o + 16);
  if (!e) return;
  b[o] = e.bootable ? 0x80 : 0;
  b[o + 4] = e.type;
  b.writeUInt32LE(e.start >>> 0, o + 8);
  b.writeUInt32LE(e.sectors >>> 0, o + 12);
}

function sign(b: Buffer, sector: number, sectorSize = 512): void {
  b[sector * sectorSize + 510] = 0x55;
  b[sector * sectorSize + 511] = 0xaa;
}

export function buildMbr(spec: MbrSpec): Buffer {
  const b = Buffer.alloc(spec.diskSectors * 512);
  b.writeUInt32LE(spec.diskId ?? 0x1234abcd, 440);
  spec.slots.forEach((s, i) => writeMbrEntry(b, 0, i, s));
  sign(b, 0);
  const ext = spec.slots.find((s) => s && [5, 0x0f, 0x85].includes(s.type));
  const logicals = spec.logicals ?? [];
  if (ext) {
    logicals.forEach((l, k) => {
      writeMbrEntry(b, l.ebr, 0, { type: l.type, start: l.start - l.ebr, sectors: l.sectors });
      const next = logicals[k + 1];
      writeMbrEntry(b, l.ebr, 1, next ? { type: 5, start: next.ebr - ext.start, sectors: next.start + next.sectors - next.ebr } : null);
      sign(b, l.ebr);
    });
    if (logicals.length === 0) sign(b, ext.start);
  }
  return b;
}

export function guidBytes(g: string): Buffer {
  const h = g.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

export const LINUX_FS = '0fc63daf-8483-4772-8e79-3d69d8477de4';
export const ESP = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';

export interface GptPart { index: number; type: string; uuid?: string; first: number; last: number; name?: string }
export interface GptSpec {
  diskSectors: number;
  sectorSize?: 512 | 4096;
  diskGuid?: string;
  numEntries?: number;
  partitions: GptPart[];
  /** extra MBR slots next to the 0xEE one (a hybrid MBR), or 'none' for no protective slot */
  mbr?: MbrSlot[] | 'none';
}

export interface GptLayout { lastLba: number; entryLbas: number; firstUsable: number; lastUsable: number }

export function gptLayout(spec: Pick<GptSpec, 'diskSectors' | 'sectorSize' | 'numEntries'>): GptLayout {
  const ss = spec.sectorSize ?? 512;
  const entryLbas = Math.ceil(((spec.numEntries ?? 128) * 128) / ss);
  const lastLba = spec.diskSectors - 1;
  return { lastLba, entryLbas, firstUsable: 2 + entryLbas, lastUsable: lastLba - 1 - entryLbas };
}

/** Recomputes the header CRC of the GPT header at `lba` (after a test edited a field). */
export function resealGptHeader(b: Buffer, lba: number, sectorSize = 512): void {
  const o = lba * sectorSize;
  b.writeUInt32LE(0, o + 16);
  b.writeUInt32LE(crc32Portable(b.subarray(o, o + b.readUInt32LE(o + 12))), o + 16);
}

export function buildGpt(spec: GptSpec): Buffer {
  const ss = spec.sectorSize ?? 512;
  const n = spec.numEntries ?? 128;
  const L = gptLayout(spec);
  const b = Buffer.alloc(spec.diskSectors * ss);
  const entries = Buffer.alloc(n * 128);
  for (const p of spec.partitions) {
    const o = p.index * 128;
    guidBytes(p.type).copy(entries, o);
    guidBytes(p.uuid ?? `00000000-0000-4000-8000-${(p.index + 1).toString(16).padStart(12, '0')}`).copy(entries, o + 16);
    entries.writeBigUInt64LE(BigInt(p.first), o + 32);
    entries.writeBigUInt64LE(BigInt(p.last), o + 40);
    if (p.name) entries.write(p.name.slice(0, 36), o + 56, 72, 'utf16le');
  }
  const entriesCrc = crc32Portable(entries);
  const header = (my: number, alt: number, entriesLba: number): void => {
    const o = my * ss;
    b.write('EFI PART', o, 'latin1');
    b.writeUInt32LE(0x00010000, o + 8);
    b.writeUInt32LE(92, o + 12);
    b.writeBigUInt64LE(BigInt(my), o + 24);
    b.writeBigUInt64LE(BigInt(alt), o + 32);
    b.writeBigUInt64LE(BigInt(L.firstUsable), o + 40);
    b.writeBigUInt64LE(BigInt(L.lastUsable), o + 48);
    guidBytes(spec.diskGuid ?? '11111111-2222-4333-8444-555555555555').copy(b, o + 56);
    b.writeBigUInt64LE(BigInt(entriesLba), o + 72);
    b.writeUInt32LE(n, o + 80);
    b.writeUInt32LE(128, o + 84);
    b.writeUInt32LE(entriesCrc, o + 88);
    entries.copy(b, entriesLba * ss);
    resealGptHeader(b, my, ss);
  };
  header(1, L.lastLba, 2);
  header(L.lastLba, 1, L.lastLba - L.entryLbas);
  if (spec.mbr !== 'none') {
    writeMbrEntry(b, 0, 0, { type: 0xee, start: 1, sectors: Math.min(L.lastLba, 0xffffffff) });
    (spec.mbr ?? []).forEach((s, i) => writeMbrEntry(b, 0, i + 1, s));
  }
  sign(b, 0);
  return b;
}

/** After a test scribbled on a GPT: recompute the entry-array CRC and header CRC of the header at
 *  `lba`, where its fields allow it, so that the damage reaches the entry checks. */
export function resealGpt(b: Buffer, lba: number, sectorSize = 512): void {
  const o = lba * sectorSize;
  if (o + sectorSize > b.length) return;
  const entriesAt = Number(b.readBigUInt64LE(o + 72)) * sectorSize;
  const bytes = b.readUInt32LE(o + 80) * b.readUInt32LE(o + 84);
  if (bytes > 0 && Number.isSafeInteger(entriesAt) && entriesAt + bytes <= b.length) {
    b.writeUInt32LE(crc32Portable(b.subarray(entriesAt, entriesAt + bytes)), o + 88);
  }
  const size = b.readUInt32LE(o + 12);
  if (size >= 92 && size <= sectorSize) resealGptHeader(b, lba, sectorSize);
}

/** A ReadAt over the image (the library's own). */
export { bufferReader as readerOf } from '../../src/parts';

// 2 primaries and an extended partition with 3 logicals, 1 MiB aligned as fdisk lays them out.
export const classicMbr: MbrSpec = {
  diskSectors: 20480,
  slots: [
    { type: 0x83, start: 2048, sectors: 4096, bootable: true },
    { type: 0x82, start: 6144, sectors: 2048 },
    { type: 0x05, start: 8192, sectors: 12288 },
  ],
  logicals: [
    { type: 0x83, ebr: 8192, start: 10240, sectors: 2048 },
    { type: 0x8e, ebr: 12288, start: 14336, sectors: 2048 },
    { type: 0x07, ebr: 16384, start: 18432, sectors: 2048 },
  ],
};

