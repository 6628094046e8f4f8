import { describe, expect, it } from 'vitest';
import { kpartxDelimiter, kpartxListLines, kpartxMappings, kpartxName, readPartitionTable } from '../../src/parts';
import { LINUX_FS, buildGpt, buildMbr, classicMbr, readerOf } from '../helpers/parts-image';

const mbr = readPartitionTable(readerOf(buildMbr(classicMbr)), BigInt(classicMbr.diskSectors * 512));
const gptImage = buildGpt({
  diskSectors: 8192,
  partitions: [
    { index: 0, type: LINUX_FS, first: 2048, last: 4095, name: 'boot' },
    { index: 2, type: LINUX_FS, first: 4096, last: 8000, name: 'rüt' },
  ],
});
const gpt = readPartitionTable(readerOf(gptImage), BigInt(gptImage.length));

describe('kpartx names', () => {
  it('puts "p" between the disk name and the number when the name ends in a digit', () => {
    expect(kpartxDelimiter('loop0')).toBe('p');
    expect(kpartxDelimiter('sda')).toBe('');
    expect(kpartxName('loop0', 5)).toBe('loop0p5');
    expect(kpartxName('sda', 1)).toBe('sda1');
    expect(kpartxName('nvme0n1', 2)).toBe('nvme0n1p2');
    expect(kpartxName('mpatha', 3)).toBe('mpatha3');
  });

  it('takes a delimiter like -p, and turns "/" into "!" after the first character', () => {
    expect(kpartxName('sda', 1, '-part')).toBe('sda-part1');
    expect(kpartxName('loop0', 1, '')).toBe('loop01');
    expect(kpartxName('vg', 1, '/')).toBe('vg!1');
  });
});

describe('kpartx -l', () => {
  it('prints an MBR with logicals for loop0, logicals against /dev/dm-<position of the extended line>', () => {
    expect(kpartxListLines(mbr, { path: '/dev/loop0', name: 'loop0' })).toBe(
      'loop0p1 : 0 4096 /dev/loop0 2048\n' +
        'loop0p2 : 0 2048 /dev/loop0 6144\n' +
        'loop0p3 : 0 2 /dev/loop0 8192\n' +
        'loop0p5 : 0 2048 /dev/dm-2 2048\n' +
        'loop0p6 : 0 2048 /dev/dm-2 6144\n' +
        'loop0p7 : 0 2048 /dev/dm-2 10240\n',
    );
  });

  it('prints sda-style names without a delimiter, and honours -p', () => {
    expect(kpartxListLines(mbr, { path: '/dev/sda', name: 'sda' }).split('\n').slice(0, 4)).toEqual([
      'sda1 : 0 4096 /dev/sda 2048',
      'sda2 : 0 2048 /dev/sda 6144',
      'sda3 : 0 2 /dev/sda 8192',
      'sda5 : 0 2048 /dev/dm-2 2048',
    ]);
    expect(kpartxListLines(gpt, { path: '/dev/sdb', name: 'sdb' }, { delimiter: '-part' })).toBe(
      'sdb-part1 : 0 2048 /dev/sdb 2048\nsdb-part3 : 0 3905 /dev/sdb 4096\n',
    );
  });

  it('prints a GPT for loop0', () => {
    expect(kpartxListLines(gpt, { path: '/dev/loop0', name: 'loop0' })).toBe(
      'loop0p1 : 0 2048 /dev/loop0 2048\nloop0p3 : 0 3905 /dev/loop0 4096\n',
    );
  });

  it('prints nothing for a table without partitions', () => {
    const empty = readPartitionTable(readerOf(buildMbr({ diskSectors: 100, slots: [] })), 51200n);
    expect(kpartxListLines(empty, { path: '/dev/loop1', name: 'loop1' })).toBe('');
  });
});

describe('kpartx -a tables', () => {
  it('maps every partition on the disk itself, logicals too, the extended one with 2 sectors', () => {
    const maps = kpartxMappings(mbr, { name: 'loop0', major: 7, minor: 0 });
    expect(maps.map((m) => [m.name, m.target.length, m.target.params, m.uuid, m.container])).toEqual([
      ['loop0p1', 4096n, '7:0 2048', 'part1-devnode_7:0_Wh5pYvM', undefined],
      ['loop0p2', 2048n, '7:0 6144', 'part2-devnode_7:0_Wh5pYvM', undefined],
      ['loop0p3', 2n, '7:0 8192', 'part3-devnode_7:0_Wh5pYvM', undefined],
      ['loop0p5', 2048n, '7:0 10240', 'part5-devnode_7:0_Wh5pYvM', 3],
      ['loop0p6', 2048n, '7:0 14336', 'part6-devnode_7:0_Wh5pYvM', 3],
      ['loop0p7', 2048n, '7:0 18432', 'part7-devnode_7:0_Wh5pYvM', 3],
    ]);
    expect(maps.every((m) => m.target.start === 0n && m.target.type === 'linear' && m.sectors === m.target.length)).toBe(true);
  });

  it('uses the dm uuid of a dm disk, and the delimiter option', () => {
    const [m] = kpartxMappings(gpt, { name: 'mpatha', major: 253, minor: 4, uuid: 'mpath-3600a0b80' }, { delimiter: '-part' });
    expect([m!.name, m!.uuid, m!.target.params]).toEqual(['mpatha-part1', 'part1-mpath-3600a0b80', '253:4 2048']);
  });
});
