import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDev, devPath, devRefToString, encodeDev, parseDevNum, resolveDevRef } from '../../src/table';

describe('device numbers', () => {
  it('encode/decode follow glibc makedev for the kernel range (12-bit major, 20-bit minor)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 0, max: 0xfffff }), (major, minor) => {
        expect(decodeDev(encodeDev({ major, minor }))).toEqual({ major, minor });
      }),
    );
    // Spot values worked out from gnu_dev_makedev's bit layout.
    expect(encodeDev({ major: 8, minor: 16 })).toBe(0x810n);
    expect(encodeDev({ major: 259, minor: 0x12345 })).toBe(0x12310345n);
    expect(decodeDev(0x12310345n)).toEqual({ major: 259, minor: 0x12345 });
    expect(decodeDev(0x700)).toEqual({ major: 7, minor: 0 });
  });

  it('parses "M:m" strictly', () => {
    expect(parseDevNum('253:4')).toEqual({ major: 253, minor: 4 });
    for (const bad of ['253', '253:', ':4', '253:4:1', 'a:b', '4096:0', '1:1048576']) expect(parseDevNum(bad)).toBeUndefined();
  });
});

describe('resolveDevRef', () => {
  it('takes "M:m" and {major, minor} without touching the filesystem', () => {
    const stat = () => {
      throw new Error('must not stat');
    };
    expect(resolveDevRef('7:3', stat)).toEqual({ major: 7, minor: 3 });
    expect(resolveDevRef({ major: 253, minor: 0 }, stat)).toEqual({ major: 253, minor: 0 });
  });

  it('stats a path and decodes its rdev', () => {
    const stat = (p: string) => ({ rdev: p === '/dev/mapper/x' ? encodeDev({ major: 253, minor: 300 }) : 0n, isBlockDevice: () => true });
    expect(devRefToString('/dev/mapper/x', stat)).toBe('253:300');
  });

  it('refuses what is not a block device, and bad input, with TypeError/RangeError', () => {
    expect(() => resolveDevRef(os.tmpdir())).toThrow(TypeError);
    expect(() => resolveDevRef('')).toThrow(TypeError);
    expect(() => resolveDevRef({ major: -1, minor: 0 })).toThrow(RangeError);
    expect(() => resolveDevRef('5000:1')).toThrow(RangeError);
  });
});

describe('devPath', () => {
  const sysfs = fs.mkdtempSync(path.join(os.tmpdir(), 'devref-sysfs-'));
  afterAll(() => fs.rmSync(sysfs, { recursive: true, force: true }));
  const mk = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(sysfs, rel)), { recursive: true });
    fs.writeFileSync(path.join(sysfs, rel), text);
  };
  mk('dev/block/7:0/uevent', 'MAJOR=7\nMINOR=0\nDEVNAME=loop0\nDEVTYPE=disk\n');
  mk('dev/block/253:2/uevent', 'MAJOR=253\nMINOR=2\nDEVNAME=dm-2\nDEVTYPE=disk\n');
  mk('dev/block/253:2/dm/name', 'vg-snap\n');

  it('maps to /dev/<DEVNAME>, and dm devices to /dev/mapper/<name>', () => {
    expect(devPath(7, 0, { sysfs })).toBe('/dev/loop0');
    expect(devPath(253, 2, { sysfs })).toBe('/dev/mapper/vg-snap');
    expect(devPath(8, 99, { sysfs })).toBeUndefined();
  });
});
