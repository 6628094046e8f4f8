// Durable record files, and stable identities read from a sysfs and /dev tree built here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIdentity, identify, locate, readJson, recordFile, recordFiles, removeDurably, strayTemporaries, writeDurably, RecordError, IdentityError } from '../../src/records';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'dmrec-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('record files', () => {
  it('are replaced whole, listed without temporaries, removed, and a broken one is named', () => {
    const dir = path.join(root, 'state');
    const f = recordFile('vol/1 x', dir);
    expect(path.basename(f)).toBe('vol%2f1%20x.json');
    expect(readJson(f)).toBeUndefined();
    writeDurably(f, { a: 1 });
    writeDurably(f, { a: 2 });
    expect(readJson(f)).toEqual({ a: 2 });
    expect((fs.statSync(f).mode & 0o777).toString(8)).toBe('600');
    fs.writeFileSync(path.join(dir, '.vol.json.1.abcd.tmp'), '{"a":');
    expect(recordFiles(dir)).toEqual([f]);
    expect(strayTemporaries(dir)).toEqual([path.join(dir, '.vol.json.1.abcd.tmp')]);
    fs.mkdirSync(path.join(dir, 'migrations'));
    fs.writeFileSync(path.join(dir, 'migrations', '.v.json.2.ef01.tmp'), '');
    expect(strayTemporaries(dir)).toEqual([path.join(dir, '.vol.json.1.abcd.tmp'), path.join(dir, 'migrations', '.v.json.2.ef01.tmp')]);
    fs.rmSync(path.join(dir, 'migrations'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"a":');
    expect(() => readJson(path.join(dir, 'bad.json'))).toThrow(RecordError);
    expect(() => readJson(path.join(dir, 'bad.json'))).toThrow(/^record .*bad\.json: not JSON/);
    expect(removeDurably(f)).toBe(true);
    expect(removeDurably(f)).toBe(false);
    expect(recordFiles(path.join(root, 'none'))).toEqual([]);
  });

  it('DEVMAPPER_STATE_DIR moves them', () => {
    process.env.DEVMAPPER_STATE_DIR = path.join(root, 'elsewhere');
    try {
      expect(recordFile('v')).toBe(path.join(root, 'elsewhere', 'v.json'));
    } finally {
      delete process.env.DEVMAPPER_STATE_DIR;
    }
    expect(recordFile('v')).toBe('/var/lib/devmapper/v.json');
  });
});

/** A fake /sys and /dev: block devices as sysfs lays them out, with udev's /dev/disk links. */
function tree(): { sys: string; dev: string } {
  const t = fs.mkdtempSync(path.join(root, 'tree-'));
  const sys = path.join(t, 'sys');
  const dev = path.join(t, 'dev');
  const put = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${text}\n`);
  };
  const link = (at: string, to: string) => {
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(to, at);
  };
  const block = (devpath: string, num: string, attrs: Record<string, string>) => {
    const d = path.join(sys, 'devices', devpath);
    put(path.join(d, 'dev'), num);
    for (const [k, v] of Object.entries(attrs)) put(path.join(d, k), v);
    const name = path.basename(devpath);
    link(path.join(sys, 'dev', 'block', num), path.relative(path.join(sys, 'dev', 'block'), d));
    link(path.join(sys, 'class', 'block', name), path.relative(path.join(sys, 'class', 'block'), d));
    if (!attrs.partition) link(path.join(sys, 'block', name), path.relative(path.join(sys, 'block'), d));
  };
  block('virtual/block/loop0', '7:0', { size: '2048', 'loop/backing_file': '/img/a.img', 'loop/offset': '0', 'loop/sizelimit': '0' });
  block('virtual/block/loop0/loop0p1', '259:0', { size: '1024', partition: '1' });
  block('virtual/block/loop1', '7:1', { size: '2048', 'loop/backing_file': '/img/gone.img (deleted)' });
  block('virtual/block/dm-0', '254:0', { size: '4096', 'dm/name': 'vol', 'dm/uuid': 'CRYPT-x' });
  block('pci/virtio/block/vda', '252:0', { size: '8192' });
  block('pci/virtio/block/vda/vda2', '252:2', { size: '4096', partition: '2' });
  link(path.join(dev, 'disk', 'by-id', 'dm-name-vol'), '../../dm-0');
  link(path.join(dev, 'disk', 'by-id', 'virtio-abc'), '../../vda');
  link(path.join(dev, 'disk', 'by-id', 'wwn-0x5000'), '../../vda');
  link(path.join(dev, 'disk', 'by-partuuid', '1234-02'), '../../vda2');
  return { sys, dev };
}

describe('stable identities', () => {
  it('name a loop device by its file, a dm device by uuid, a disk by its best by-id name, a partition by its uuid or its disk', () => {
    const r = tree();
    const loop = identify({ major: 7, minor: 0 }, r);
    expect(loop).toEqual({ kind: 'loop', file: '/img/a.img', offset: '0', sizeLimit: '0', sectors: '2048' });
    expect(identify({ major: 254, minor: 0 }, r)).toEqual({ kind: 'dm', name: 'vol', uuid: 'CRYPT-x', sectors: '4096' });
    expect(identify({ major: 252, minor: 0 }, r)).toEqual({ kind: 'disk', byId: 'wwn-0x5000', sectors: '8192' });
    expect(identify({ major: 252, minor: 2 }, r)).toEqual({ kind: 'partition', partUuid: '1234-02', number: 2, sectors: '4096' });
    const lp = identify({ major: 259, minor: 0 }, r);
    expect(lp).toEqual({ kind: 'partition', disk: loop, number: 1, sectors: '1024' });
    for (const [id, num] of [[loop, '7:0'], [lp, '259:0'], [identify({ major: 252, minor: 0 }, r), '252:0'], [identify({ major: 252, minor: 2 }, r), '252:2'], [identify({ major: 254, minor: 0 }, r), '254:0']] as const) {
      const found = locate(id, r);
      expect('num' in found && `${found.num.major}:${found.num.minor}`, describeIdentity(id)).toBe(num);
    }
  });

  it('refuse what could not be found again, and say why something is not found or not the same', () => {
    const r = tree();
    expect(() => identify({ major: 7, minor: 1 }, r)).toThrow(/backing file \/img\/gone\.img \(deleted\) is deleted/);
    expect(() => identify({ major: 9, minor: 9 }, r)).toThrow(IdentityError);
    expect(locate({ kind: 'loop', file: '/img/a.img', offset: '0', sizeLimit: '0', sectors: '4096' }, r)).toEqual({
      missing: 'a loop device on /img/a.img at offset 0 (7:0) has 2048 sectors, the record says 4096',
    });
    expect(locate({ kind: 'loop', file: '/img/b.img', offset: '0', sizeLimit: '0', sectors: '2048' }, r)).toEqual({ missing: 'a loop device on /img/b.img at offset 0 is not there' });
    expect(locate({ kind: 'disk', byId: 'ata-x', sectors: '1' }, r)).toEqual({ missing: 'disk ata-x is not there' });
    expect(locate({ kind: 'dm', name: 'vol', uuid: 'OTHER', sectors: '4096' }, r)).toEqual({ missing: 'dm device vol (uuid OTHER) is not there' });
  });
});
