// GPT, validated and chosen the way kpartx's kpartx/gpt.c (find_valid_gpt, is_gpt_valid) does:
// - A header is valid when: signature "EFI PART", CRC-32 over header_size bytes (with its CRC
//   field zeroed) matches, my_lba is the LBA it was read from, sizeof_partition_entry is exactly
//   128, the entry array is not empty and its CRC-32 (over num * 128 bytes) matches.
// - The primary is at LBA 1. If it is invalid, the backup is read at the *last LBA of the device*
//   (not where the primary said); with a valid primary the backup only gives warnings.
// - The MBR must be "protective": signature 0x55AA and any of the 4 slots of type 0xEE. A hybrid
//   MBR (0xEE next to other slots) passes, and its other slots are ignored. Without 0xEE a valid
//   GPT is ignored (unless -g) and the MBR is read instead.
// - Slots: entry index + 1, an all-zero type GUID is an empty slot; only the first 256 entries.
//   kpartx does not check partitions against the disk or the usable area: this module refuses
//   those (ERANGE) rather than produce a mapping over the GPT itself or past the end.
import { crc32 } from './crc32';
import type { Disk } from './disk';
import { PartitionTableError, type PartitionTableErrorCode } from './errors';
import { guidAt, isZeroGuid } from './guid';
import { MAX_SLOTS } from './mbr';
import type { Partition } from './types';

const SIGNATURE = Buffer.from('EFI PART', 'latin1');
const ENTRY_SIZE = 128;
/** Far above any real table (128 entries = 16 KiB); bounds what a corrupt count makes us read. */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

export interface GptHeader {
  lba: bigint;
  alternateLba: bigint;
  firstUsable: bigint;
  lastUsable: bigint;
  diskGuid: string;
  entriesLba: bigint;
  numEntries: number;
}

export type HeaderResult =
  | { ok: true; header: GptHeader; entries: Buffer }
  | { ok: false; code: PartitionTableErrorCode; where: string; reason: string; signed: boolean };

export function readGptHeader(disk: Disk, lba: bigint): HeaderResult {
  const where = `GPT header at LBA ${lba}`;
  const fail = (code: PartitionTableErrorCode, reason: string, signed = true, at = where): HeaderResult => ({ ok: false, code, where: at, reason, signed });
  if (lba < 1n || lba >= disk.lbas) return fail('ERANGE', `LBA ${lba} is outside the device (${disk.lbas} LBAs)`, false);
  let h: Buffer;
  try {
    h = disk.lba(lba, 1, where);
  } catch (e) {
    if (e instanceof PartitionTableError) return fail(e.code, e.message, false);
    throw e;
  }
  if (!h.subarray(0, 8).equals(SIGNATURE)) return fail('ENOTABLE', 'no "EFI PART" signature', false);
  const headerSize = h.readUInt32LE(12);
  if (headerSize < 92 || headerSize > disk.sectorSize) return fail('EFORMAT', `header size ${headerSize} is not between 92 and ${disk.sectorSize}`);
  const copy = Buffer.from(h.subarray(0, headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== h.readUInt32LE(16)) return fail('ECRC', 'the header CRC-32 does not match');
  const myLba = h.readBigUInt64LE(24);
  if (myLba !== lba) return fail('EFORMAT', `the header says it is at LBA ${myLba}`);
  const entrySize = h.readUInt32LE(84);
  if (entrySize !== ENTRY_SIZE) return fail('EFORMAT', `partition entry size is ${entrySize}, not ${ENTRY_SIZE}`);
  const numEntries = h.readUInt32LE(80);
  const bytes = numEntries * ENTRY_SIZE;
  if (bytes === 0 || bytes > MAX_ENTRY_BYTES) return fail('EFORMAT', `${numEntries} partition entries`);
  const entriesLba = h.readBigUInt64LE(72);
  const arrayWhere = `GPT entry array at LBA ${entriesLba}`;
  let entries: Buffer;
  try {
    entries = disk.read(entriesLba * BigInt(disk.sectorSize), bytes, arrayWhere);
  } catch (e) {
    if (e instanceof PartitionTableError) return fail(e.code === 'ERANGE' ? 'ETRUNC' : e.code, `(of ${where}) ${e.message}`, true, arrayWhere);
    throw e;
  }
  if (crc32(entries) !== h.readUInt32LE(88)) return fail('ECRC', `the CRC-32 of the entry array (named by ${where}) does not match`, true, arrayWhere);
  return {
    ok: true,
    entries,
    header: {
      lba,
      alternateLba: h.readBigUInt64LE(32),
      firstUsable: h.readBigUInt64LE(40),
      lastUsable: h.readBigUInt64LE(48),
      diskGuid: guidAt(h, 56),
      entriesLba,
      numEntries,
    },
  };
}

/** The partitions of a valid header's entry array, in 512-byte sectors. */
export function gptPartitions(disk: Disk, header: GptHeader, entries: Buffer, notes: string[]): Partition[] {
  const out: Partition[] = [];
  for (let i = 0; i < header.numEntries; i++) {
    const o = i * ENTRY_SIZE;
    if (isZeroGuid(entries, o)) continue;
    if (i >= MAX_SLOTS) {
      notes.push(`GPT entries from ${MAX_SLOTS + 1} on are in use but ignored: kpartx has ${MAX_SLOTS} slots`);
      break;
    }
    const where = `GPT entry ${i + 1}`;
    const first = entries.readBigUInt64LE(o + 32);
    const last = entries.readBigUInt64LE(o + 40);
    if (last < first) throw new PartitionTableError('ERANGE', where, `ends (LBA ${last}) before it starts (LBA ${first})`);
    if (first < header.firstUsable || last > header.lastUsable) throw new PartitionTableError('ERANGE', where, `LBAs ${first}–${last} lie outside the usable area ${header.firstUsable}–${header.lastUsable}`);
    if (last >= disk.lbas) throw new PartitionTableError('ERANGE', where, `LBAs ${first}–${last} run past the end of the disk (${disk.lbas} LBAs)`);
    const raw = entries.subarray(o + 56, o + 128);
    let units = 0;
    while (units < 36 && raw.readUInt16LE(2 * units) !== 0) units++;
    const p: Partition = {
      number: i + 1,
      start: disk.mul * first,
      sectors: disk.mul * (last - first + 1n),
      kind: 'gpt',
      type: guidAt(entries, o),
      uuid: guidAt(entries, o + 16),
    };
    if (units > 0) p.name = raw.subarray(0, 2 * units).toString('utf16le');
    out.push(p);
  }
  return out;
}
