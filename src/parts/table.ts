// Which table kpartx reads, in its order (kpartx/kpartx.c initpts: "gpt" before "dos"), plus the
// checks kpartx does not make but a mapping needs: nothing past the end, nothing shared.
import { Disk } from './disk';
import { PartitionTableError } from './errors';
import { gptPartitions, readGptHeader, type HeaderResult } from './gpt';
import { hasMbrSignature, mbrEntry, readMbr } from './mbr';
import type { Partition, PartitionTable, ReadAt, ReadOptions } from './types';

const describe = (r: HeaderResult): string => (r.ok ? 'valid' : `${r.where}: ${r.reason}`);

/**
 * Reads an MBR (with logical partitions) or a GPT as kpartx reads it.
 * @param read - Reads bytes of the device.
 * @param sizeBytes - The device's size.
 * @throws PartitionTableError when there is no table kpartx would read, or it is damaged.
 */
export function readPartitionTable(read: ReadAt, sizeBytes: bigint, o: ReadOptions = {}): PartitionTable {
  const sectorSize = o.sectorSize ?? 512;
  if (sectorSize !== 512 && sectorSize !== 4096) throw new RangeError(`sectorSize must be 512 or 4096, not ${String(sectorSize)}`);
  if (typeof sizeBytes !== 'bigint' || sizeBytes < 0n) throw new TypeError('sizeBytes must be a non-negative bigint');
  const disk = new Disk(read, sizeBytes, sectorSize);
  if (disk.lbas < 1n) throw new PartitionTableError('ETRUNC', 'sector 0', `the device holds ${sizeBytes} bytes, less than one sector`);
  const mbr = disk.sector512(0n, 'sector 0');
  const notes: string[] = [];
  const signed = hasMbrSignature(mbr);
  const protective = signed && [0, 1, 2, 3].some((i) => mbrEntry(mbr, i).type === 0xee);

  const lastLba = disk.lbas - 1n;
  const primary = readGptHeader(disk, 1n);
  let backup: HeaderResult | undefined;
  if (primary.ok) {
    backup = readGptHeader(disk, primary.header.alternateLba);
    if (!backup.ok && primary.header.alternateLba !== lastLba) backup = readGptHeader(disk, lastLba);
  } else {
    backup = readGptHeader(disk, lastLba);
  }
  const chosen = primary.ok ? primary : backup.ok ? backup : undefined;

  if (chosen && (protective || o.forceGpt)) {
    if (!protective) notes.push('the GPT is valid but the MBR is not protective (no 0xEE slot): used because forceGpt is set, as kpartx -g');
    if (!primary.ok) notes.push(`the primary GPT header is invalid (${describe(primary)}): using the backup at LBA ${chosen.header.lba}, as kpartx and the kernel do`);
    else if (!backup.ok) notes.push(`the backup GPT header is invalid (${describe(backup)}): using the primary, as kpartx does`);
    else if (primary.header.alternateLba !== lastLba) notes.push(`the primary GPT header puts the backup at LBA ${primary.header.alternateLba}, not at the last LBA ${lastLba} (kpartx warns, and uses the primary)`);
    if (protective && [0, 1, 2, 3].some((i) => { const e = mbrEntry(mbr, i); return e.type !== 0xee && e.type !== 0 && e.sectors !== 0; })) {
      notes.push('hybrid MBR: its slots other than 0xEE are ignored, kpartx reads the GPT');
    }
    // A GPT without used entries makes kpartx fall through to dos.c, which stops at the 0xEE slot:
    // nothing is mapped either way, so an empty GPT table is returned.
    const partitions = gptPartitions(disk, chosen.header, chosen.entries, notes);
    checkOverlaps(partitions, []);
    return { scheme: 'gpt', diskSectors: disk.sectors, sectorSize, partitions, diskId: chosen.header.diskGuid, notes };
  }

  const gptFailure = [primary, backup].find((r): r is Extract<HeaderResult, { ok: false }> => !r.ok && r.signed);
  if (chosen) notes.push('a valid GPT is present but the MBR is not protective (no 0xEE slot): kpartx ignores the GPT and reads the MBR (forceGpt to use it)');
  if (!signed) {
    if (gptFailure) throw new PartitionTableError(gptFailure.code, gptFailure.where, `${gptFailure.reason}; backup: ${describe(backup)}; and no MBR signature at sector 0`);
    if (chosen) throw new PartitionTableError('ENOTABLE', 'sector 0', 'a valid GPT, but no MBR signature (kpartx ignores such a GPT without -g: use forceGpt)');
    throw new PartitionTableError('ENOTABLE', 'sector 0', 'no MBR signature (0x55AA) and no GPT (kpartx\'s other formats, bsd, sun, mac..., are not read here)');
  }
  if (protective) {
    // dos.c returns no partitions at all when a slot has type 0xEE.
    if (gptFailure) throw new PartitionTableError(gptFailure.code, gptFailure.where, `${gptFailure.reason}; backup: ${describe(backup)}; the MBR is protective, so kpartx maps nothing`);
    throw new PartitionTableError('ENOTABLE', 'sector 0', `the MBR is protective (0xEE) but there is no GPT (${describe(primary)}; ${describe(backup)}): kpartx maps nothing`);
  }
  const { partitions, ebrs } = readMbr(disk, mbr, notes);
  const ordered = [...partitions.filter((p) => p.container === undefined), ...partitions.filter((p) => p.container !== undefined)];
  checkOverlaps(ordered, ebrs);
  return { scheme: 'mbr', diskSectors: disk.sectors, sectorSize, partitions: ordered, diskId: mbr.readUInt32LE(440).toString(16).padStart(8, '0'), notes };
}

/** Primaries (extended ones whole) must not overlap each other; nor may data partitions, nor an EBR lie inside one. */
function checkOverlaps(partitions: Partition[], ebrs: bigint[]): void {
  const clash = (set: Partition[]): void => {
    const sorted = [...set].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!;
      const b = sorted[i]!;
      if (b.start < a.start + a.sectors) {
        throw new PartitionTableError('EOVERLAP', `partitions ${a.number} and ${b.number}`, `partition ${b.number} (from sector ${b.start}) starts inside partition ${a.number} (sectors ${a.start}–${a.start + a.sectors - 1n})`);
      }
    }
  };
  clash(partitions.filter((p) => p.kind !== 'logical'));
  const data = partitions.filter((p) => p.kind !== 'extended');
  clash(data);
  for (const s of ebrs) {
    const p = data.find((d) => d.start <= s && s < d.start + d.sectors);
    if (p) throw new PartitionTableError('EOVERLAP', `EBR at sector ${s}`, `the EBR lies inside partition ${p.number} (sectors ${p.start}–${p.start + p.sectors - 1n})`);
  }
}
