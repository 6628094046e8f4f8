// dmctl parts side by side with kpartx (Debian's, fetched by the rig) on the same disks: the same
// `-l` output, the same devices with the same names, uuids and tables; bytes written through each
// partition device land at the partition's offset in the image; an image file is attached and
// detached as kpartx does; busy partitions and damaged tables are refused, changing nothing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import { sweep, testName } from '../helpers/dm';
import { removeTestDir, testDir } from '../helpers/loop';
import { ESP, LINUX_FS, buildGpt, buildMbr, classicMbr, type GptSpec } from '../helpers/parts-image';
import { assertBuilt, dmctl, ok, okJson } from './cli-helpers';

const KPARTX = process.env.DEVMAPPER_RIG_KPARTX;
const attached: string[] = [];
let n = 0;

beforeAll(async () => {
  assertBuilt();
  if (!KPARTX || !fs.existsSync(KPARTX)) throw new Error('kpartx is needed (the rig names it in DEVMAPPER_RIG_KPARTX)');
  await sweep(testName(''));
});
afterEach(async () => {
  await sweep(testName(''));
  for (const f of attached.splice(0)) for (const l of await loop.findByBackingFile(f)) await loop.detach(l.path).catch(() => undefined);
});
afterAll(removeTestDir);

const gpt: GptSpec = {
  diskSectors: 20480,
  diskGuid: 'a1b2c3d4-e5f6-4789-8abc-def012345678',
  partitions: [
    { index: 0, type: ESP, first: 2048, last: 6143, name: 'EFI system' },
    { index: 1, type: LINUX_FS, first: 6144, last: 14335, name: 'données' },
    { index: 3, type: LINUX_FS, first: 14336, last: 20446 },
  ],
};

function kpartx(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(KPARTX!, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function imageFile(image: Buffer): string {
  const file = path.join(testDir(), `disk-${++n}.img`);
  fs.writeFileSync(file, image);
  attached.push(file);
  return file;
}

/** The image on a loop device, under a dm device named dmtest-<pid>-<tag> (so that its partition
 *  devices carry the test prefix and the sweep finds them). */
async function dmDisk(image: Buffer, tag: string): Promise<{ name: string; node: string; file: string }> {
  const file = imageFile(image);
  const l = await loop.attach(file);
  const name = testName(tag);
  await dm.create(name, { uuid: `DMTEST-${name}` }); // partitions' uuids are part<N>-<this>
  await dm.loadRawTable(name, [{ start: 0n, length: BigInt(image.length / 512), type: 'linear', params: `${l.major}:${l.minor} 0` }]);
  await dm.resume(name);
  return { name, node: dm.nodePath(name), file };
}

/** Every dm device whose name starts with `prefix`: name, uuid and table, as kpartx or dmctl made it. */
function devicesOf(prefix: string): { name: string; uuid?: string; table: string }[] {
  return dm.listDevicesSync().filter((d) => d.name.startsWith(prefix) && d.name !== prefix).map((d) => ({
    name: d.name,
    uuid: dm.infoSync(d.name).uuid,
    table: dm.tableSync(d.name).map((t) => `${t.start} ${t.length} ${t.type} ${t.params}`).join('\n'),
  })).sort((a, b) => a.name.localeCompare(b.name));
}

describe('dmctl parts beside kpartx', () => {
  for (const [what, image] of [['MBR with logical partitions', () => buildMbr(classicMbr)], ['GPT with named partitions', () => buildGpt(gpt)]] as const) {
    it(`${what}: the same -l output, the same devices, uuids and tables; bytes land at each partition's offset`, async () => {
      const disk = await dmDisk(image(), what.startsWith('MBR') ? 'mbr' : 'gpt');
      const theirs = kpartx(['-l', disk.node]);
      expect(theirs.code, theirs.stderr).toBe(0);
      expect(await ok(['parts', 'list', disk.node])).toBe(theirs.stdout);

      const added = await okJson(['parts', 'add', disk.node]);
      const ours = devicesOf(disk.name);
      expect(ours.map((d) => d.name)).toEqual([...added.created].sort());
      // Each partition's first sector, written through its device, is at its start in the image.
      for (const p of added.partitions as { number: number; start: number; kind: string; device: string }[]) {
        if (p.kind === 'extended') continue;
        const mark = Buffer.alloc(512, `partition ${p.number} `);
        const fd = fs.openSync(dm.nodePath(p.device), fs.constants.O_WRONLY | fs.constants.O_SYNC);
        fs.writeSync(fd, mark, 0, 512, 0);
        fs.closeSync(fd);
        const at = Buffer.alloc(512);
        const img = fs.openSync(disk.file, 'r');
        fs.readSync(img, at, 0, 512, Number(p.start) * 512);
        fs.closeSync(img);
        expect(at.equals(mark), `partition ${p.number}`).toBe(true);
      }
      expect(await okJson(['parts', 'remove', disk.node])).toMatchObject({ removed: added.created });
      expect(devicesOf(disk.name)).toEqual([]);

      const add = kpartx(['-a', '-s', disk.node]);
      expect(add.code, add.stderr).toBe(0);
      expect(devicesOf(disk.name)).toEqual(ours);
      expect(kpartx(['-d', '-s', disk.node]).code).toBe(0);
    });
  }

  it('an image file: attached on a loop device with kpartx\'s names, and detached when its partitions go', async () => {
    const file = imageFile(buildMbr(classicMbr));
    const list = await dmctl(['parts', 'list', file]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^loop\d+p1 : 0 4096 \/dev\/loop\d+ 2048\n/);
    expect(await loop.findByBackingFile(file)).toEqual([]); // a listing leaves no loop device
    const added = await okJson(['parts', 'add', file]);
    const loopName = path.basename(added.disk.path);
    expect(added.created).toEqual([`${loopName}p1`, `${loopName}p2`, `${loopName}p3`, `${loopName}p5`, `${loopName}p6`, `${loopName}p7`]);
    try {
      expect(dm.tableSync(`${loopName}p5`)[0].params).toBe(`${added.disk.major}:${added.disk.minor} 10240`);
    } finally {
      expect(await okJson(['parts', 'remove', file])).toMatchObject({ removed: added.created });
    }
    expect(dm.listDevicesSync().filter((d) => d.name.startsWith(`${loopName}p`))).toEqual([]);
    expect(await loop.findByBackingFile(file)).toEqual([]);
  });

  it('refused, changing nothing: removing while a partition is open (exit 5); a damaged table (exit 3); a name taken (exit 7)', async () => {
    const disk = await dmDisk(buildMbr(classicMbr), 'busy');
    await ok(['parts', 'add', disk.node]);
    const fd = fs.openSync(dm.nodePath(`${disk.name}5`), 'r');
    try {
      const r = await dmctl(['parts', 'remove', disk.node]);
      expect(r.code).toBe(5);
      expect(r.stderr).toBe(`dmctl: ${disk.name}5 is open or mounted: nothing was removed\n`);
      expect(devicesOf(disk.name)).toHaveLength(6);
    } finally {
      fs.closeSync(fd);
    }
    await ok(['parts', 'remove', disk.node]);

    // Someone else's device under a partition's name.
    await dm.create(`${disk.name}2`);
    const taken = await dmctl(['parts', 'add', disk.node]);
    expect(taken.code).toBe(7);
    expect(taken.stderr).toMatch(`a device named ${disk.name}2 exists and is not partition 2`);
    expect(devicesOf(disk.name).map((d) => d.name)).toEqual([`${disk.name}2`]);

    const bad = buildGpt(gpt);
    bad[512 + 16] ^= 0xff; // primary header CRC
    bad[bad.length - 512 + 16] ^= 0xff; // backup header CRC
    const file = imageFile(bad);
    const r = await dmctl(['parts', 'list', '--gpt', file]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await loop.findByBackingFile(file)).toEqual([]);
  });
});
