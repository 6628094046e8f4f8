import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INITIAL_CRC, LvmError, activationPlan, lvmCrc, readMetadataText, readPvLabel, scanPhysicalVolume, volumeGroupsFrom,
} from '../../src/lvm';
import { buildPvImage, readerOf, resealLabel, resealMda, sample, vgText } from '../helpers/lvm-image';
import { thrown as thrownAs } from '../helpers/thrown';
import { crc32Portable } from '../../src/parts/crc32';

const PV0 = 'pV0aaabbbbccccddddeeeeffff000001';
const PV1 = 'pV1aaabbbbccccddddeeeeffff000002';
const disk = (seqno = 9) => vgText({ ...sample, seqno }, 'disk');
const devices = (pvId: string) => ({ [PV0]: '7:0', [PV1]: '7:1' })[pvId];

const thrown = (f: () => unknown): LvmError => thrownAs(f, LvmError);

/** lib/misc/crc.c's first algorithm, nibble by nibble over its 16-entry table: an independent check of the byte table. */
function nibbleCrc(bytes: Uint8Array, crc = INITIAL_CRC): number {
  const tab = [0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c];
  for (const b of bytes) {
    crc = (crc ^ b) >>> 0;
    crc = ((crc >>> 4) ^ tab[crc & 0xf]!) >>> 0;
    crc = ((crc >>> 4) ^ tab[crc & 0xf]!) >>> 0;
  }
  return crc;
}

describe('LVM2 CRC (lib/misc/crc.c)', () => {
  it('is CRC-32 seeded with 0xf597a6cf and never inverted: equal to the nibble algorithm and to ~zlib.crc32 from ~seed', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      expect(lvmCrc(b)).toBe(nibbleCrc(b));
      // zlib.crc32 (Node 20.15+), or the same CRC-32 where it is missing: checked every run.
      const z = (zlib as unknown as { crc32?: (d: Uint8Array, v: number) => number }).crc32 ?? crc32Portable;
      expect(lvmCrc(b)).toBe((~z(b, ~INITIAL_CRC >>> 0)) >>> 0);
    }), { numRuns: 100 });
    expect(lvmCrc(new Uint8Array(0))).toBe(0xf597a6cf);
  });

  it('chains over two pieces as over their concatenation (how a wrapped text is summed)', () => {
    const a = Buffer.from('vg {\n'), b = Buffer.from('id = "x"\n}\n');
    expect(lvmCrc(b, lvmCrc(a))).toBe(lvmCrc(Buffer.concat([a, b])));
  });
});

describe('PV label and metadata area', () => {
  it('reads the label in sector 1, the pv_header lists and the committed text', () => {
    const { image } = buildPvImage({ pvId: PV0, text: disk() });
    const label = readPvLabel(readerOf(image))!;
    expect(label).toEqual({
      pvId: PV0, pvUuid: 'pV0aaa-bbbb-cccc-dddd-eeee-ffff-000001', deviceSize: 4194304n, labelSector: 1,
      dataAreas: [{ offset: 1048576n, size: 0n }], metadataAreas: [{ offset: 4096n, size: 65536n }],
    });
    const m = readMetadataText(readerOf(image), label.metadataAreas[0]!)!;
    expect(m.text).toBe(disk());
    expect(m.wrapped).toBe(false);
  });

  it('finds a label in any of the first four sectors and none on a blank device', () => {
    for (const s of [0, 2, 3]) expect(readPvLabel(readerOf(buildPvImage({ pvId: PV0, labelSector: s }).image))?.labelSector).toBe(s);
    expect(readPvLabel(readerOf(Buffer.alloc(8192)))).toBeUndefined();
    expect(readPvLabel(readerOf(Buffer.alloc(100)))).toBeUndefined();
  });

  it('reads a text that wraps around the end of the ring to start + 512', () => {
    const { image, at } = buildPvImage({ pvId: PV0, text: disk(), mdaSize: 8192, wrapBytes: 700 });
    expect(at.text + at.textSize).toBeGreaterThan(at.mda + 8192);
    const scan = scanPhysicalVolume(readerOf(image))!;
    expect(scan.metadata[0]).toMatchObject({ text: disk(), wrapped: true });
    // the bytes right after the header hold the tail of the text
    expect(image.subarray(at.mda + 512, at.mda + 512 + 10).toString()).toBe(Buffer.from(`${disk()}\0`).subarray(-700, -690).toString());
  });

  it('returns no text for a PV in no VG and for an area marked ignored', () => {
    expect(readMetadataText(readerOf(buildPvImage({ pvId: PV0 }).image), { offset: 4096n, size: 65536n })).toBeUndefined();
    expect(readMetadataText(readerOf(buildPvImage({ pvId: PV0, text: disk(), ignored: true }).image), { offset: 4096n, size: 65536n })).toBeUndefined();
  });

  it('takes the newest seqno when two PVs of a VG disagree, and plans its devices', () => {
    const a = scanPhysicalVolume(readerOf(buildPvImage({ pvId: PV0, text: disk(8) }).image))!;
    const b = scanPhysicalVolume(readerOf(buildPvImage({ pvId: PV1, text: disk(11), wrapBytes: 300, mdaSize: 8192 }).image))!;
    for (const order of [[a, b], [b, a]]) {
      const vgs = volumeGroupsFrom(order.flatMap((s) => s.metadata));
      expect(vgs.map((v) => [v.name, v.seqno])).toEqual([['vg-x', 11]]);
    }
    const plan = activationPlan(volumeGroupsFrom([...a.metadata, ...b.metadata])[0]!, devices);
    expect(plan.every((p) => p.action === 'create')).toBe(true);
  });

  it('skips a copy that does not parse when asked to, reporting it, and keeps the good one', () => {
    const seen: string[] = [];
    const vgs = volumeGroupsFrom(['vg {', disk()], { onError: (e, src) => seen.push(`${src} ${e.code} ${e.where}`) });
    expect(vgs).toHaveLength(1);
    expect(seen).toEqual(['copy 0 PARSE 1:5']);
    expect(thrown(() => volumeGroupsFrom(['vg {'])).code).toBe('PARSE');
  });
});

describe('damaged PVs give typed errors that say where', () => {
  const built = () => buildPvImage({ pvId: PV0, text: disk() });
  const area = { offset: 4096n, size: 65536n };

  it('a device that ends inside the label or before the metadata area', () => {
    const { image } = built();
    expect(thrown(() => readPvLabel(readerOf(image.subarray(0, 700))))).toMatchObject({ code: 'TRUNCATED', where: 'label sector 1' });
    expect(thrown(() => readMetadataText(readerOf(image.subarray(0, 4200)), area))).toMatchObject({ code: 'TRUNCATED', where: 'byte 4096' });
    expect(thrown(() => readMetadataText(readerOf(image.subarray(0, 4700)), area))).toMatchObject({ code: 'TRUNCATED', where: 'byte 4608' });
  });

  it('a label with a bad CRC, in the wrong sector, or with a pv_header that does not fit', () => {
    const a = built();
    a.image[a.at.pvHeader + 3]! ^= 1;
    expect(thrown(() => readPvLabel(readerOf(a.image)))).toMatchObject({ code: 'LABEL_CRC', where: 'label sector 1' });
    const b = built();
    b.image.writeBigUInt64LE(2n, b.at.label + 8);
    resealLabel(b.image, b.at.label);
    expect(thrown(() => readPvLabel(readerOf(b.image)))).toMatchObject({ code: 'LABEL_SECTOR' });
    const c = built();
    c.image.writeUInt32LE(500, c.at.label + 20);
    resealLabel(c.image, c.at.label);
    expect(thrown(() => readPvLabel(readerOf(c.image)))).toMatchObject({ code: 'LABEL_LAYOUT' });
    const d = built();
    d.image.fill(0xff, d.at.pvHeader + 40, d.at.label + 512); // no list terminator inside the sector
    resealLabel(d.image, d.at.label);
    expect(thrown(() => readPvLabel(readerOf(d.image))).message).toMatch(/data area list runs past the label sector/);
  });

  it('an mda_header with a bad CRC, magic, version, start or text location', () => {
    const edit = (f: (img: Buffer) => void, reseal = true): LvmError => {
      const { image } = built();
      f(image);
      if (reseal) resealMda(image, 4096);
      return thrown(() => readMetadataText(readerOf(image), area));
    };
    expect(edit((i) => void (i[4096 + 100]! ^= 4), false)).toMatchObject({ code: 'MDA_CRC', where: 'mda_header at byte 4096' });
    expect(edit((i) => i.write('X', 4096 + 5))).toMatchObject({ code: 'MDA_MAGIC' });
    expect(edit((i) => i.writeUInt32LE(2, 4096 + 20))).toMatchObject({ code: 'MDA_VERSION' });
    expect(edit((i) => i.writeBigUInt64LE(8192n, 4096 + 24))).toMatchObject({ code: 'MDA_START' });
    expect(edit((i) => i.writeBigUInt64LE(1n << 40n, 4096 + 32))).toMatchObject({ code: 'MDA_SIZE' });
    expect(edit((i) => i.writeBigUInt64LE(70000n, 4096 + 40))).toMatchObject({ code: 'MDA_LOCATION' });
    expect(edit((i) => i.writeBigUInt64LE(65536n, 4096 + 48))).toMatchObject({ code: 'MDA_LOCATION' });
  });

  it('metadata text whose checksum does not match', () => {
    const { image, at } = built();
    image[at.text + 20]! ^= 0x20;
    const e = thrown(() => readMetadataText(readerOf(image), area));
    expect(e).toMatchObject({ code: 'TEXT_CHECKSUM', where: `metadata text at byte ${at.text}` });
  });

  it('metadata text that does not parse, with line and column', () => {
    const { image } = buildPvImage({ pvId: PV0, text: disk().replace('seqno = 9', 'seqno = ') });
    const scan = scanPhysicalVolume(readerOf(image))!;
    // as in libdm, the word on the next line is taken as the value, so the error is at the = after it
    const e = thrown(() => volumeGroupsFrom(scan.metadata));
    expect(e).toMatchObject({ code: 'PARSE', where: '4:8' });
  });
});

describe('random damage', () => {
  const base = buildPvImage({ pvId: PV0, text: disk(), mdaSize: 8192, wrapBytes: 400 });
  const run = (image: Buffer) => {
    const scan = scanPhysicalVolume(readerOf(image));
    if (!scan) return;
    for (const vg of volumeGroupsFrom(scan.metadata, { onError: () => {} })) activationPlan(vg, devices);
  };
  const onlyLvmErrors = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof LvmError)) throw e;
    }
  };

  it('byte flips, zeroed runs and truncation of a built image never throw anything but LvmError', () => {
    const hot = [base.at.label, base.at.pvHeader, base.at.mda, base.at.text, base.at.mda + 512];
    const spot = fc.oneof(fc.integer({ min: 0, max: 4096 + 8192 }), fc.constantFrom(...hot).chain((h) => fc.integer({ min: h, max: h + 80 })));
    fc.assert(fc.property(
      fc.array(fc.tuple(spot, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 6 }),
      fc.boolean(), fc.boolean(), fc.option(fc.integer({ min: 0, max: 4096 + 8192 })),
      (edits, resealL, resealM, cut) => {
        const img = Buffer.from(base.image);
        for (const [at, v, n] of edits) img.fill(v, at, at + n);
        if (resealL) resealLabel(img, base.at.label);
        if (resealM) resealMda(img, base.at.mda);
        onlyLvmErrors(() => run(cut === null ? img : img.subarray(0, cut)));
      },
    ), { numRuns: 200 });
  });

  it('damaged text with a correct checksum (parser and model see garbage) never throws anything but LvmError', () => {
    const text = disk();
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(text.length - 1), fc.nat(20), fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '=', '#', '-', '9', '0', 'x', ' ', '\n', '\0'), maxLength: 4 })), { minLength: 1, maxLength: 4 }),
      (edits) => {
        let t = text;
        for (const [at, del, ins] of edits) t = t.slice(0, at) + ins + t.slice(at + del);
        onlyLvmErrors(() => run(buildPvImage({ pvId: PV0, text: t, mdaSize: 16384 }).image));
      },
    ), { numRuns: 200 });
  });
});
