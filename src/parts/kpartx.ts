// What kpartx (multipath-tools kpartx/kpartx.c, kpartx/devmapper.c) names, lists and loads.
// - Delimiter (set_delimiter): 'p' when the disk's map name ends in a digit 0-9, else none;
//   -p replaces it with any string. The map name is the dm name for a dm disk, else the basename
//   of the device path (for an image file, of the loop device kpartx attached).
// - Names (format_partname): "<disk><delim><N>", then every '/' after the first character
//   becomes '!'. `kpartx -l` prints the name without that replacement.
// - Tables (ADD): one linear target "0 <size> linear <major>:<minor> <start>" on the whole disk,
//   for logical partitions too (since commit 04bfbfea, 2013, they are no longer stacked on the
//   extended partition's device). An extended partition is mapped with 2 sectors (dos.c, "for
//   LILO"; on a 4Kn disk one logical sector, 8). Primaries are loaded first, then logicals.
// - UUIDs: "part<N>-<disk uuid>", the disk uuid being its dm uuid, or for a non-dm disk
//   "devnode_<major>:<minor>_Wh5pYvM" (nondm_create_uuid).
// - `kpartx -l` (LIST) prints, first for every non-logical slot with a size, then for logicals:
//     "<disk><delim><N> : 0 <size> <device> <start>"
//     "<disk><delim><N> : 0 <size> /dev/dm-<i> <start - start of its extended partition>"
//   where <device> is the path kpartx opened and <i> is not a real dm minor but the position
//   (from 0) of the extended partition among the lines printed before.
import type { Partition, PartitionTable } from './types';

/** Options of kpartxMappings(). */
export interface KpartxOptions {
  /** Like `kpartx -p`: the text between disk name and number. */
  delimiter?: string;
}

/** One partition device as kpartx would make it: name, number, uuid and linear table. */
export interface KpartxMapping {
  name: string;
  number: number;
  /** The dm uuid kpartx gives the device at create. */
  uuid: string;
  sectors: bigint;
  target: { start: 0n; length: bigint; type: 'linear'; params: string };
  /** For a logical partition, the number of its extended partition. */
  container?: number;
}

export function kpartxDelimiter(diskName: string): string {
  return /[0-9]$/.test(diskName) ? 'p' : '';
}

function rawName(disk: string, number: number, delimiter: string | undefined): string {
  return `${disk}${delimiter ?? kpartxDelimiter(disk)}${number}`;
}

/** The dm name kpartx gives partition `number` of the disk whose map name is `disk`. */
export function kpartxName(disk: string, number: number, delimiter?: string): string {
  const name = rawName(disk, number, delimiter);
  return name.slice(0, 1) + name.slice(1).replaceAll('/', '!');
}

/** kpartx's order: slots that are not in a container first, then the contained ones, each by number. */
function inKpartxOrder(table: PartitionTable): Partition[] {
  const byNumber = (a: Partition, b: Partition): number => a.number - b.number;
  const top = table.partitions.filter((p) => p.container === undefined && p.sectors > 0n).sort(byNumber);
  const inner = table.partitions.filter((p) => p.container !== undefined && p.sectors > 0n).sort(byNumber);
  return [...top, ...inner];
}

/** Sectors kpartx maps for a partition: all of it, except 2 (one 4Kn sector) for an extended one. */
export function kpartxSectors(table: PartitionTable, p: Partition): bigint {
  if (p.kind !== 'extended') return p.sectors;
  return table.sectorSize === 512 ? 2n : BigInt(table.sectorSize / 512);
}

/** The devices `kpartx -a` creates, in its order, with the table it loads into each. */
export function kpartxMappings(table: PartitionTable, disk: { path?: string; name: string; major: number; minor: number; uuid?: string }, o: KpartxOptions = {}): KpartxMapping[] {
  const parent = disk.uuid || `devnode_${disk.major}:${disk.minor}_Wh5pYvM`;
  return inKpartxOrder(table).map((p) => {
    const sectors = kpartxSectors(table, p);
    const m: KpartxMapping = {
      name: kpartxName(disk.name, p.number, o.delimiter),
      number: p.number,
      uuid: `part${p.number}-${parent}`,
      sectors,
      target: { start: 0n, length: sectors, type: 'linear', params: `${disk.major}:${disk.minor} ${p.start}` },
    };
    if (p.container !== undefined) m.container = p.container;
    return m;
  });
}

/** Byte for byte what `kpartx -l <path>` prints for this table. */
export function kpartxListLines(table: PartitionTable, disk: { path: string; name: string }, o: KpartxOptions = {}): string {
  const lines: string[] = [];
  const position = new Map<number, number>();
  for (const p of inKpartxOrder(table)) {
    const head = `${rawName(disk.name, p.number, o.delimiter)} : 0 ${kpartxSectors(table, p)}`;
    if (p.container === undefined) {
      position.set(p.number, lines.length);
      lines.push(`${head} ${disk.path} ${p.start}\n`);
      continue;
    }
    const ext = table.partitions.find((q) => q.number === p.container);
    const at = position.get(p.container);
    if (!ext || at === undefined) throw new RangeError(`partition ${p.number} names container ${p.container}, which the table does not hold`);
    lines.push(`${head} /dev/dm-${at} ${p.start - ext.start}\n`);
  }
  return lines.join('');
}
