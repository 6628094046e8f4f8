/**
 * Builds LVM2 PV images in memory (label, pv_header, mda_header, text metadata) the way LVM2
 * lays them out, and metadata text the way LVM2's export.c writes it, for the unit tests of
 * src/lvm. Structures and CRCs follow lib/label/label.c, lib/format_text/layout.h and format-text.c.
 */
import { lvmCrc } from '../../src/lvm/crc';
import type { ReadAt } from '../../src/lvm/device';
import type { ConfigNode, ConfigScalar, ConfigValue } from '../../src/lvm/config-text';

export const MAGIC = ' LVM2 x[5A%r0N*>';

export interface PvImageSpec {
  pvId: string; // 32 characters
  size?: number; // bytes of the image; default 4 MiB
  labelSector?: number; // default 1
  mdaOffset?: number; // default 4096
  mdaSize?: number; // default 64 KiB
  peStartBytes?: number; // default 1 MiB
  text?: string; // the committed metadata text; a NUL is appended as LVM2 does
  /** Where the text starts, relative to the area; default 512 (just after the header). */
  textOffset?: number;
  /** Place the text so that this many of its bytes wrap to the start of the ring. */
  wrapBytes?: number;
  ignored?: boolean;
}

export interface PvImage {
  image: Buffer;
  /** Byte offsets of interesting structures, for damage tests. */
  at: { label: number; pvHeader: number; mda: number; text: number; textSize: number };
}

export function buildPvImage(spec: PvImageSpec): PvImage {
  const size = spec.size ?? 4 << 20;
  const labelSector = spec.labelSector ?? 1;
  const mdaOffset = spec.mdaOffset ?? 4096;
  const mdaSize = spec.mdaSize ?? 64 << 10;
  const peStart = spec.peStartBytes ?? 1 << 20;
  const img = Buffer.alloc(size);

  const label = labelSector * 512;
  img.write('LABELONE', label, 'latin1');
  img.writeBigUInt64LE(BigInt(labelSector), label + 8);
  img.writeUInt32LE(32, label + 20);
  img.write('LVM2 001', label + 24, 'latin1');
  const pvh = label + 32;
  img.write(spec.pvId, pvh, 'latin1');
  img.writeBigUInt64LE(BigInt(size), pvh + 32);
  let p = pvh + 40;
  const locn = (offset: number, sz: number): void => {
    img.writeBigUInt64LE(BigInt(offset), p);
    img.writeBigUInt64LE(BigInt(sz), p + 8);
    p += 16;
  };
  locn(peStart, 0); // LVM2 writes the data area with size 0: to the end of the device
  locn(0, 0);
  locn(mdaOffset, mdaSize);
  locn(0, 0);
  img.writeUInt32LE(2, p); // pv_header_extension: version 2, flags PV_EXT_USED, no bootloader area
  img.writeUInt32LE(1, p + 4);
  img.writeUInt32LE(lvmCrc(img.subarray(label + 20, label + 512)), label + 16);

  let textAt = 0;
  let textSize = 0;
  let checksum = 0;
  if (spec.text !== undefined) {
    const bytes = Buffer.concat([Buffer.from(spec.text, 'utf8'), Buffer.alloc(1)]);
    textSize = bytes.length;
    const rel = spec.wrapBytes !== undefined ? mdaSize - (bytes.length - spec.wrapBytes) : spec.textOffset ?? 512;
    textAt = mdaOffset + rel;
    const firstLen = Math.min(bytes.length, mdaSize - rel);
    bytes.copy(img, mdaOffset + rel, 0, firstLen);
    bytes.copy(img, mdaOffset + 512, firstLen);
    checksum = lvmCrc(bytes);
    writeMdaHeader(img, mdaOffset, mdaSize, { offset: rel, size: bytes.length, checksum, ignored: spec.ignored ?? false });
  } else {
    writeMdaHeader(img, mdaOffset, mdaSize, { offset: 0, size: 0, checksum: 0, ignored: false });
  }
  return { image: img, at: { label, pvHeader: pvh, mda: mdaOffset, text: textAt, textSize } };
}

function writeMdaHeader(img: Buffer, at: number, size: number, slot0: { offset: number; size: number; checksum: number; ignored: boolean }): void {
  img.write(MAGIC, at + 4, 'latin1');
  img.writeUInt32LE(1, at + 20);
  img.writeBigUInt64LE(BigInt(at), at + 24);
  img.writeBigUInt64LE(BigInt(size), at + 32);
  img.writeBigUInt64LE(BigInt(slot0.offset), at + 40);
  img.writeBigUInt64LE(BigInt(slot0.size), at + 48);
  img.writeUInt32LE(slot0.checksum, at + 56);
  img.writeUInt32LE(slot0.ignored ? 1 : 0, at + 60);
  resealMda(img, at);
}

/** Recompute the mda_header CRC after a test changed a field on purpose. */
export function resealMda(img: Buffer, at: number): void {
  img.writeUInt32LE(lvmCrc(img.subarray(at + 4, at + 512)), at);
}

/** Recompute the label CRC after a test changed a field on purpose. */
export function resealLabel(img: Buffer, label: number): void {
  img.writeUInt32LE(lvmCrc(img.subarray(label + 20, label + 512)), label + 16);
}

/** A device backed by a buffer: reads past its end come back short, as from a real device. */
export const readerOf = (buf: Buffer): ReadAt => (offset, length) => {
  const from = Number(offset > BigInt(buf.length) ? BigInt(buf.length) : offset);
  return buf.subarray(from, Math.min(buf.length, from + length));
};

/** A config tree printed as libdm's dm_config_write_node would (tabs, lists always in brackets). */
export function printConfig(nodes: ConfigNode[], level = 0): string {
  const tab = '\t'.repeat(level);
  return nodes.map((n) => {
    const key = /[#"!]/.test(n.key) ? `"${escape(n.key)}"` : n.key;
    if (n.kind === 'section') return `${tab}${key} {\n${printConfig(n.children, level + 1)}${tab}}\n`;
    return `${tab}${key} = ${printValue(n.value)}\n`;
  }).join('');
}

const escape = (s: string): string => s.replace(/(["\\])/g, '\\$1');

function printValue(v: ConfigValue): string {
  if (v.kind === 'list') return `[${v.items.map(printScalar).join(', ')}]`;
  return printScalar(v);
}

function printScalar(v: ConfigScalar): string {
  if (v.kind === 'string') return `"${escape(v.value)}"`;
  if (v.kind === 'float') return v.value.toFixed(6); // printf %f
  return v.value.toString();
}

export interface SegSpec {
  start: number;
  count: number;
  type?: string; // default striped
  stripes?: [string, number][];
  stripeSize?: number; // sectors
  /** Raw lines for other segment types (thin, raid1 ...), written as they are. */
  extra?: string[];
}
export interface LvSpec {
  name: string;
  id: string;
  status?: string[];
  flags?: string[];
  segments: SegSpec[];
}
export interface PvSpec {
  id: string;
  device: string;
  devSize: number;
  peStart: number;
  peCount: number;
  status?: string[];
}
export interface VgSpec {
  name: string;
  id: string;
  seqno: number;
  extentSize: number;
  pvs: PvSpec[];
  lvs: LvSpec[];
  /** Lines added to the VG section after `flags` (e.g. `system_id = "host1"`). */
  extra?: string[];
}

const list = (xs: string[]): string => `[${xs.map((x) => `"${x}"`).join(', ')}]`;
const size = (sectors: number): string => {
  let d = sectors / 2;
  let i = 0;
  const units = ['Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes'];
  while (d > 1024 && i < units.length - 1) {
    d /= 1024;
    i++;
  }
  return `# ${Number(d.toPrecision(6))} ${units[i]}`;
};

/**
 * Metadata text in export.c's order. `backup` is what vgcfgbackup writes (header first, tabs,
 * comments); `disk` is what goes into a metadata area (no indentation, no comments, header last).
 */
export function vgText(vg: VgSpec, style: 'backup' | 'disk'): string {
  const out: string[] = [];
  let indent = 0;
  const line = (text: string, comment?: string): void => {
    if (style === 'disk') out.push(text);
    else out.push(`${'\t'.repeat(indent)}${text}${comment ? `\t${comment}` : ''}`);
  };
  const nl = (): void => void out.push('');
  // The header's comments are part of its format strings, so the disk copy keeps them too;
  // ctime()'s own newline leaves a blank line after each date.
  const header = (): void => {
    out.push('# Generated by LVM2 version 2.03.16(2) (2022-05-18): Mon Jan  8 10:00:00 2024', '');
    out.push('contents = "Text Format Volume Group"', 'version = 1', '');
    out.push(`description = "${style === 'backup' ? "Created *after* executing 'vgcfgbackup'" : 'Write from lvcreate -n x vg.'}"`, '');
    out.push('creation_host = "guest"\t# Linux guest 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64');
    out.push('creation_time = 1704708000\t# Mon Jan  8 10:00:00 2024', '');
  };
  if (style === 'backup') header();
  line(`${vg.name} {`);
  indent++;
  line(`id = "${vg.id}"`);
  line(`seqno = ${vg.seqno}`);
  line('format = "lvm2"', '# informational');
  line('status = ["RESIZEABLE", "READ", "WRITE"]');
  line('flags = []');
  for (const x of vg.extra ?? []) line(x);
  line(`extent_size = ${vg.extentSize}`, size(vg.extentSize));
  line('max_lv = 0');
  line('max_pv = 0');
  line('metadata_copies = 0');
  nl();
  line('physical_volumes {');
  indent++;
  vg.pvs.forEach((pv, i) => {
    nl();
    line(`pv${i} {`);
    indent++;
    line(`id = "${pv.id}"`);
    line(`device = "${pv.device}"`, '# Hint only');
    nl();
    line(`status = ${list(pv.status ?? ['ALLOCATABLE'])}`);
    line('flags = []');
    line(`dev_size = ${pv.devSize}`, size(pv.devSize));
    line(`pe_start = ${pv.peStart}`);
    line(`pe_count = ${pv.peCount}`, size(pv.peCount * vg.extentSize));
    indent--;
    line('}');
  });
  indent--;
  line('}');
  nl();
  if (vg.lvs.length) {
    line('logical_volumes {');
    indent++;
    for (const lv of vg.lvs) {
      nl();
      line(`${lv.name} {`);
      indent++;
      line(`id = "${lv.id}"`);
      line(`status = ${list(lv.status ?? ['READ', 'WRITE', 'VISIBLE'])}`);
      line(`flags = ${list(lv.flags ?? [])}`);
      line('creation_time = 1704708000', '# 2024-01-08 10:00:00 +0000');
      line('creation_host = "guest"');
      line(`segment_count = ${lv.segments.length}`);
      lv.segments.forEach((s, i) => {
        nl();
        line(`segment${i + 1} {`);
        indent++;
        line(`start_extent = ${s.start}`);
        line(`extent_count = ${s.count}`, size(s.count * vg.extentSize));
        nl();
        line(`type = "${s.type ?? 'striped'}"`);
        if (s.stripes) {
          line(`stripe_count = ${s.stripes.length}`, s.stripes.length === 1 ? '# linear' : undefined);
          if (s.stripes.length > 1) line(`stripe_size = ${s.stripeSize}`, size(s.stripeSize!));
          nl();
          line('stripes = [');
          indent++;
          s.stripes.forEach(([pv, pe], k) => line(`"${pv}", ${pe}${k === s.stripes!.length - 1 ? '' : ','}`));
          indent--;
          line(']');
        }
        for (const e of s.extra ?? []) line(e);
        indent--;
        line('}');
      });
      indent--;
      line('}');
    }
    indent--;
    line('}');
    nl();
  }
  indent--;
  line('}');
  if (style === 'disk') header();
  return `${out.join('\n')}\n`;
}

export const VG_ID = 'Xy3b8Q-1bZk-aP2k-Lx0N-9QwE-rT5u-Yh7JkL';
export const PV0 = 'pV0aaa-bbbb-cccc-dddd-eeee-ffff-000001';
export const PV1 = 'pV1aaa-bbbb-cccc-dddd-eeee-ffff-000002';
export const id = (n: number): string => `Lv${n.toString(36)}xyz-AbCd-EfGh-IjKl-MnOp-QrSt-UvWx${String(n).padStart(2, '0')}`;

/** A VG as vgcfgbackup writes it: a dash in the VG name, a linear LV in two pieces, a striped LV, one across both PVs, one with a dash. */
export const sample: VgSpec = {
  name: 'vg-x', id: VG_ID, seqno: 9, extentSize: 8192,
  pvs: [
    { id: PV0, device: '/dev/loop0', devSize: 204800, peStart: 2048, peCount: 24 },
    { id: PV1, device: '/dev/loop1', devSize: 204800, peStart: 2048, peCount: 24 },
  ],
  lvs: [
    { name: 'lin', id: id(1), segments: [{ start: 0, count: 2, stripes: [['pv0', 0]] }, { start: 2, count: 3, stripes: [['pv0', 10]] }] },
    { name: 'stripe', id: id(2), segments: [{ start: 0, count: 4, stripes: [['pv0', 2], ['pv1', 0]], stripeSize: 128 }] },
    { name: 'span', id: id(3), segments: [{ start: 0, count: 3, stripes: [['pv0', 4]] }, { start: 3, count: 5, stripes: [['pv1', 2]] }] },
    { name: 'lv-y', id: id(4), segments: [{ start: 0, count: 2, stripes: [['pv1', 7]] }] },
  ],
};

