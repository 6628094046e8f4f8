import { describe, expect, it } from 'vitest';
import { parseMountInfo, parseSwaps, unescapeOctal } from '../../src/ops/mounts';

describe('parseMountInfo', () => {
  it('reads the device, mount point and source, with optional fields and escapes', () => {
    const text = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '35 22 7:3 / /mnt/my\\040disk rw,relatime shared:12 master:3 - ext4 /dev/loop3 rw',
      '36 22 0:31 / /tmp rw - tmpfs tmpfs rw,size=1g',
      '37 22 0:45 /sub /data rw - btrfs /dev/mapper/vol rw',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { dev: '254:0', mountPoint: '/', source: '/dev/vda' },
      { dev: '7:3', mountPoint: '/mnt/my disk', source: '/dev/loop3' },
      { dev: '0:31', mountPoint: '/tmp', source: 'tmpfs' },
      { dev: '0:45', mountPoint: '/data', source: '/dev/mapper/vol' },
    ]);
  });

  it('skips lines that are not mountinfo records', () => {
    expect(parseMountInfo('garbage\n1 2 3\n1 2 x:y / / rw - ext4 /dev/x rw\n')).toEqual([]);
  });
});

describe('parseSwaps', () => {
  it('reads partitions and files after the header, tabs or spaces between fields', () => {
    const text = [
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority',
      '/dev/loop4                              partition\t8188\t\t0\t\t-2',
      '/swap\\040file\tfile\t1048572\t0\t-3',
      '',
    ].join('\n');
    expect(parseSwaps(text)).toEqual([
      { file: '/dev/loop4', type: 'partition' },
      { file: '/swap file', type: 'file' },
    ]);
  });

  it('no swap: only the header', () => {
    expect(parseSwaps('Filename\tType\tSize\tUsed\tPriority\n')).toEqual([]);
  });
});

describe('unescapeOctal', () => {
  it('turns the kernel\'s octal escapes back into characters', () => {
    expect(unescapeOctal('a\\040b\\011c\\012d\\134e')).toBe('a b\tc\nd\\e');
  });
});
