import { type DiskArea, type ReadAt, SECTOR } from './device';
import { lvmCrc } from './crc';
import { LvmError } from './errors';
import { formatId } from './names';

/** What the LVM2 label and pv_header of a device say (lib/label/label.h, lib/format_text/layout.h). */
export interface PhysicalVolumeLabel {
  /** The PV id as stored: 32 characters, no dashes. */
  pvId: string;
  /** The same id as `pvs` prints it, with dashes. */
  pvUuid: string;
  /** Bytes, as recorded when the label was written. */
  deviceSize: bigint;
  /** Data areas, bytes from the start of the device (the first is where the extents begin). */
  dataAreas: DiskArea[];
  /** Metadata areas, bytes from the start of the device; each begins with an mda_header. */
  metadataAreas: DiskArea[];
  /** The sector (0..3) the label sits in. */
  labelSector: number;
}

const LABEL_ID = 'LABELONE';
const LABEL_TYPE = 'LVM2 001';
/** LVM2 looks for the label in the first 4 sectors only. */
const SCAN_SECTORS = 4;
const PV_HEADER_SIZE = 40; // 32-byte uuid + u64 device size
const LOCN_SIZE = 16;

/** The LVM2 label of a device, or undefined if it has none (not a PV). */
export function readPvLabel(read: ReadAt): PhysicalVolumeLabel | undefined {
  const buf = read(0n, SCAN_SECTORS * SECTOR);
  let refused: LvmError | undefined;
  for (let s = 0; s < SCAN_SECTORS; s++) {
    const sector = buf.subarray(s * SECTOR, (s + 1) * SECTOR);
    if (sector.length < LABEL_ID.length || sector.toString('latin1', 0, 8) !== LABEL_ID) continue;
    const where = `label sector ${s}`;
    if (sector.length < SECTOR) throw new LvmError('TRUNCATED', where, `the device ends inside the label sector`);
    // LVM2 skips a label that is misplaced or fails its CRC and keeps looking; we do the same but
    // report the first such label if no good one follows.
    const claimed = sector.readBigUInt64LE(8);
    if (claimed !== BigInt(s)) {
      refused ??= new LvmError('LABEL_SECTOR', where, `the label says it belongs in sector ${claimed}`);
      continue;
    }
    const stored = sector.readUInt32LE(16);
    const actual = lvmCrc(sector.subarray(20));
    if (stored !== actual) {
      refused ??= new LvmError('LABEL_CRC', where, `label CRC is 0x${hex(stored)}, the sector sums to 0x${hex(actual)}`);
      continue;
    }
    if (sector.toString('latin1', 24, 32) !== LABEL_TYPE) continue; // another labeller's (e.g. LVM1)
    return pvHeader(sector, s);
  }
  if (refused) throw refused;
  return undefined;
}

function pvHeader(sector: Buffer, s: number): PhysicalVolumeLabel {
  const where = `label sector ${s}`;
  const at = sector.readUInt32LE(20);
  if (at > SECTOR - PV_HEADER_SIZE) throw new LvmError('LABEL_LAYOUT', where, `pv_header offset ${at} is outside the sector`);
  const pvId = sector.toString('latin1', at, at + 32);
  const deviceSize = sector.readBigUInt64LE(at + 32);
  let pos = at + PV_HEADER_SIZE;
  // Two lists, each ended by an entry whose offset is 0; both must end inside the sector.
  const list = (name: string): DiskArea[] => {
    const out: DiskArea[] = [];
    for (;;) {
      if (pos + LOCN_SIZE > SECTOR) throw new LvmError('LABEL_LAYOUT', where, `the ${name} list runs past the label sector`);
      const offset = sector.readBigUInt64LE(pos);
      const size = sector.readBigUInt64LE(pos + 8);
      pos += LOCN_SIZE;
      if (offset === 0n) return out;
      out.push({ offset, size });
    }
  };
  const dataAreas = list('data area');
  const metadataAreas = list('metadata area');
  return { pvId, pvUuid: formatId(pvId), deviceSize, dataAreas, metadataAreas, labelSector: s };
}

export const hex = (n: number): string => n.toString(16).padStart(8, '0');
