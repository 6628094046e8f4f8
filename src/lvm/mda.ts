import { type DiskArea, type ReadAt, readExact } from './device';
import { lvmCrc } from './crc';
import { LvmError } from './errors';
import { hex } from './label';

/** The header sector at the start of every metadata area (lib/format_text/layout.h). */
export interface MdaHeader {
  /** Byte offset of the area on the device (LVM2 checks it against where it read the header). */
  start: bigint;
  /** Bytes in the area, this header included. */
  size: bigint;
  /** Slot 0 of the raw_locn list: where the committed text lies, relative to `start`. */
  committed: { offset: bigint; size: bigint; checksum: number; ignored: boolean };
}

/** The committed metadata text of one area. */
export interface MetadataText {
  text: string;
  /** Where it came from, for messages. */
  where: string;
  /** True when the text ran past the end of the area and continued after the header. */
  wrapped: boolean;
}

export const MDA_HEADER_SIZE = 512;
/** " LVM2 x[5A%r0N*>", FMTT_MAGIC. */
const MAGIC = Buffer.from(' LVM2 x[5A%r0N*>', 'latin1');
const FMTT_VERSION = 1;
const RAW_LOCN_IGNORED = 1;
const U32_MAX = 0xffffffffn;

/** Reads and checks the metadata area header (magic, version, CRC) at the start of a metadata area. */
export function readMdaHeader(read: ReadAt, area: DiskArea): MdaHeader {
  const where = `mda_header at byte ${area.offset}`;
  const b = readExact(read, area.offset, MDA_HEADER_SIZE, where);
  const stored = b.readUInt32LE(0);
  const actual = lvmCrc(b.subarray(4));
  if (stored !== actual) throw new LvmError('MDA_CRC', where, `header CRC is 0x${hex(stored)}, the sector sums to 0x${hex(actual)}`);
  if (!b.subarray(4, 20).equals(MAGIC)) throw new LvmError('MDA_MAGIC', where, `bad magic ${JSON.stringify(b.toString('latin1', 4, 20))}`);
  const version = b.readUInt32LE(20);
  if (version !== FMTT_VERSION) throw new LvmError('MDA_VERSION', where, `version ${version}, only ${FMTT_VERSION} is known`);
  const start = b.readBigUInt64LE(24);
  if (start !== area.offset) throw new LvmError('MDA_START', where, `the header says the area starts at byte ${start}`);
  const size = b.readBigUInt64LE(32);
  if (size < BigInt(MDA_HEADER_SIZE) || (area.size !== 0n && size > area.size)) {
    throw new LvmError('MDA_SIZE', where, `area size ${size} is below ${MDA_HEADER_SIZE} or beyond the ${area.size} bytes the PV header gives it`);
  }
  const committed = {
    offset: b.readBigUInt64LE(40),
    size: b.readBigUInt64LE(48),
    checksum: b.readUInt32LE(56),
    ignored: (b.readUInt32LE(60) & RAW_LOCN_IGNORED) !== 0,
  };
  return { start, size, committed };
}

/**
 * The committed text of a metadata area, checksum checked; undefined when the area holds none
 * (a PV in no VG) or is marked ignored (`pvchange --metadataignore y`), as LVM2 then skips it.
 */
export function readMetadataText(read: ReadAt, area: DiskArea): MetadataText | undefined {
  const h = readMdaHeader(read, area);
  const { offset, size, checksum, ignored } = h.committed;
  if ((offset === 0n && size === 0n) || ignored) return undefined;
  const where = `metadata text at byte ${h.start + offset}`;
  const header = BigInt(MDA_HEADER_SIZE);
  if (offset < header || offset >= h.size || size === 0n || size > h.size - header || size > U32_MAX) {
    throw new LvmError('MDA_LOCATION', `mda_header at byte ${h.start}`, `text location (offset ${offset}, size ${size}) does not fit the ${h.size}-byte area`);
  }
  // The area is a ring after the header: text that passes its end continues at start + 512.
  const wrap = offset + size > h.size ? offset + size - h.size : 0n;
  const first = readExact(read, h.start + offset, Number(size - wrap), where);
  const second = wrap ? readExact(read, h.start + header, Number(wrap), `${where} (wrapped part)`) : Buffer.alloc(0);
  const sum = lvmCrc(second, lvmCrc(first));
  if (sum !== checksum) throw new LvmError('TEXT_CHECKSUM', where, `text checksum is 0x${hex(sum)}, the header expects 0x${hex(checksum)}`);
  const bytes = Buffer.concat([first, second]);
  // LVM2 writes the text with its terminating NUL inside `size`; the parser stops there.
  const nul = bytes.indexOf(0);
  return { text: bytes.toString('utf8', 0, nul < 0 ? bytes.length : nul), where, wrapped: wrap > 0n };
}
