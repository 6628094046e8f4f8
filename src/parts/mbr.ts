// MBR with extended/logical partitions, read the way kpartx's kpartx/dos.c reads it
// (multipath-tools, same logic from 0.7 to 0.11 and master). Facts encoded here:
// - Only the 4 primary slots, then for each extended partition (types 0x05, 0x0f, 0x85) its
//   EBR chain; logical slots continue after slot 4, so the first logical is number 5.
// - Any slot of type 0xEE makes dos.c give up (the disk is GPT territory): handled in table.ts.
// - An EBR is read as 2 entries only (entries 3 and 4 are ignored). An extended-type entry with
//   a start and a size is the link (the first one only), relative to the start of the *primary*
//   extended partition; every other entry, empty ones included, takes the next number, relative
//   to the EBR's own sector. So an empty EBR entry leaves a gap in the numbers.
// - The chain ends silently at an EBR without the 0x55AA signature, and after 100 EBRs in a row
//   that took no number. kpartx has 256 slots in all.
// - The type byte is not looked at except for extended/GPT: a type-0 entry with a size is mapped.
// kpartx's getblock() takes the sector as an unsigned int, so it would misread an EBR beyond
// 2^32 sectors (2 TiB); this reads the right sector there.
// Sizes and starts are in 512-byte sectors; on a 4Kn disk dos.c multiplies the on-disk values by
// sector_size/512, and so does this (the MBR and EBRs are still read as the first 512 bytes).
import type { Disk } from './disk';
import { PartitionTableError } from './errors';
import type { Partition } from './types';

export const MAX_SLOTS = 256;
const MAX_IDLE_EBRS = 100;

export interface MbrEntry {
  boot: number;
  type: number;
  /** start and size as stored, in logical sectors */
  start: number;
  sectors: number;
}

export const hasMbrSignature = (b: Buffer): boolean => b[510] === 0x55 && b[511] === 0xaa;
export const isExtendedType = (t: number): boolean => t === 0x05 || t === 0x0f || t === 0x85;

export function mbrEntry(b: Buffer, i: number): MbrEntry {
  const o = 0x1be + 16 * i;
  return { boot: b[o]!, type: b[o + 4]!, start: b.readUInt32LE(o + 8), sectors: b.readUInt32LE(o + 12) };
}

const typeName = (t: number): string => `0x${t.toString(16).padStart(2, '0')}`;

export interface MbrResult {
  partitions: Partition[];
  /** EBR sectors that carried a signature (they must not lie inside a logical partition). */
  ebrs: bigint[];
}

export function readMbr(disk: Disk, mbr: Buffer, notes: string[]): MbrResult {
  const partitions: Partition[] = [];
  const ebrs: bigint[] = [];
  let slots = 4;
  for (let i = 0; i < 4; i++) {
    const e = mbrEntry(mbr, i);
    const where = `sector 0, entry ${i + 1}`;
    const extended = isExtendedType(e.type);
    if (e.sectors === 0 && !extended) continue;
    const start = disk.mul * BigInt(e.start);
    const sectors = disk.mul * BigInt(e.sectors);
    // kpartx maps 2 sectors of an extended partition whatever its size, and reads its EBR at `start`.
    if (extended && sectors < 2n) throw new PartitionTableError('ERANGE', where, `extended partition ${i + 1} has ${sectors} sectors, fewer than the 2 kpartx maps`);
    if (e.start === 0) throw new PartitionTableError('ERANGE', where, `partition ${i + 1} starts at sector 0, over the MBR itself`);
    if (start + sectors > disk.sectors) throw new PartitionTableError('ERANGE', where, `partition ${i + 1} (sectors ${start}–${start + sectors - 1n}) runs past the end of the disk (${disk.sectors} sectors)`);
    if (e.type === 0) notes.push(`MBR entry ${i + 1} has type 0 (empty) but a size: kpartx maps it anyway`);
    const p: Partition = { number: i + 1, start, sectors, kind: extended ? 'extended' : 'primary', type: typeName(e.type), bootable: e.boot === 0x80 };
    partitions.push(p);
    if (extended) slots = walkChain(disk, p, slots, partitions, ebrs, notes);
  }
  return { partitions, ebrs };
}

/** Follows the EBR chain of `ext`, appending its logicals; returns the number of slots used. */
function walkChain(disk: Disk, ext: Partition, slots: number, out: Partition[], ebrs: bigint[], notes: string[]): number {
  const end = ext.start + ext.sectors;
  const seen = new Set<bigint>();
  const first = slots;
  let next = ext.start;
  let from = `sector 0, entry ${ext.number}`;
  let idle = 0;
  for (;;) {
    const here = next;
    if (++idle > MAX_IDLE_EBRS) {
      notes.push(`the EBR chain of partition ${ext.number} runs through ${MAX_IDLE_EBRS} EBRs without a partition: kpartx stops there`);
      break;
    }
    if (here < ext.start || here >= end) throw new PartitionTableError('ERANGE', from, `the EBR link points to sector ${here}, outside extended partition ${ext.number} (sectors ${ext.start}–${end - 1n})`);
    if (seen.has(here)) throw new PartitionTableError('ELOOP', from, `the EBR chain comes back to the EBR at sector ${here} (kpartx would list the same partitions again until its 256 slots are full)`);
    seen.add(here);
    const where = `EBR at sector ${here}`;
    const b = disk.sector512(here, where);
    if (!hasMbrSignature(b)) {
      notes.push(`${where} has no 0x55AA signature: the chain of partition ${ext.number} ends there, as in kpartx`);
      break;
    }
    ebrs.push(here);
    let more = false;
    for (let i = 0; i < 2; i++) {
      const e = mbrEntry(b, i);
      if (isExtendedType(e.type)) {
        if (e.start !== 0 && e.sectors !== 0 && !more) {
          next = ext.start + disk.mul * BigInt(e.start);
          more = true;
        } else if (e.start !== 0 || e.sectors !== 0) {
          notes.push(`${where}, entry ${i + 1}: a second link, ignored as kpartx ignores it`);
        }
        continue;
      }
      if (slots >= MAX_SLOTS) {
        notes.push(`${where}: kpartx has ${MAX_SLOTS} slots; the rest of the chain is not read`);
        return slots;
      }
      const number = ++slots;
      idle = 0;
      if (e.sectors === 0) continue;
      const start = here + disk.mul * BigInt(e.start);
      const sectors = disk.mul * BigInt(e.sectors);
      const at = `${where}, entry ${i + 1}`;
      if (start + sectors > end) throw new PartitionTableError('ERANGE', at, `logical partition ${number} (sectors ${start}–${start + sectors - 1n}) runs outside extended partition ${ext.number} (sectors ${ext.start}–${end - 1n})`);
      if (e.type === 0) notes.push(`${at}: logical partition ${number} has type 0 (empty) but a size: kpartx maps it anyway`);
      out.push({ number, start, sectors, kind: 'logical', type: typeName(e.type), bootable: e.boot === 0x80, container: ext.number });
    }
    if (!more) break;
    from = where;
  }
  const numbers = out.filter((p) => p.container === ext.number).map((p) => p.number);
  let expect = first + 1;
  for (const n of numbers) {
    if (n > expect) notes.push(`numbers ${expect}–${n - 1} are skipped: kpartx gives empty EBR entries a number`);
    expect = n + 1;
  }
  return slots;
}
