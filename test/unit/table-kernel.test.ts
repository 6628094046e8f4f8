// The parts of the kernel-facing table functions that need no kernel: sysfs lookups against a
// fixture tree, path formatting, status typing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { devPathFormatter, kernelDeviceProvider, kernelTableProblems, statusAs } from '../../src/table/kernel';

const sysfs = fs.mkdtempSync(path.join(os.tmpdir(), 'devmapper-sysfs-'));
afterAll(() => fs.rmSync(sysfs, { recursive: true, force: true }));

function blockDev(num: string, files: Record<string, string>): void {
  const dir = path.join(sysfs, 'dev', 'block', num);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
}

blockDev('7:3', { size: '32768\n', uevent: 'MAJOR=7\nMINOR=3\nDEVNAME=loop3\nDEVTYPE=disk\n' });
blockDev('254:1', { size: '2048\n', 'dm/name': 'vg-data\n', uevent: 'DEVNAME=dm-1\n' });
blockDev('8:0', { size: 'garbage\n' });

describe('kernelDeviceProvider', () => {
  const p = kernelDeviceProvider({ sysfs });

  it('reads sizes in sectors from <sysfs>/dev/block/M:m/size', () => {
    expect(p.sizeOf('7:3')).toBe(32768n);
    expect(p.sizeOf('254:1')).toBe(2048n);
  });

  it('says undefined for devices sysfs does not have, unreadable sizes, and paths that are not block devices', () => {
    expect(p.sizeOf('7:99')).toBeUndefined();
    expect(p.sizeOf('8:0')).toBeUndefined();
    expect(p.sizeOf('/dev/null')).toBeUndefined();
    expect(p.sizeOf('/no/such/path')).toBeUndefined();
  });

  it('identifies objects and numbers by "M:m", and unresolvable paths by their spelling', () => {
    expect(p.identify({ major: 7, minor: 3 })).toBe('7:3');
    expect(p.identify('7:3')).toBe('7:3');
    expect(p.identify('/no/such/path')).toBe('/no/such/path');
  });
});

describe('devPathFormatter', () => {
  const dev = devPathFormatter({ sysfs });
  it('maps major:minor to /dev/mapper/<name> for dm devices and /dev/<DEVNAME> otherwise; unknown numbers and paths stay as they are', () => {
    expect(dev('254:1')).toBe('/dev/mapper/vg-data');
    expect(dev({ major: 7, minor: 3 })).toBe('/dev/loop3');
    expect(dev('7:99')).toBe('7:99');
    expect(dev('/dev/sdz')).toBe('/dev/sdz');
  });
});

describe('kernelTableProblems with injected devices and versions (no kernel asked)', () => {
  it('uses the given provider and version list', async () => {
    const problems = await kernelTableProblems(
      [
        { start: 0n, length: 40000n, type: 'linear', device: '7:3', offset: 0n },
        { start: 40000n, length: 8n, type: 'verity', params: '1 7:3 7:3 4096 4096 1 0 sha256 00 -' },
      ],
      { devices: kernelDeviceProvider({ sysfs }), versions: [{ name: 'linear', version: [1, 4, 0] }, { name: 'verity', version: [1, 8, 0] }] },
    );
    expect(problems.map((e) => [e.line, e.rule])).toEqual([[1, 'device-too-small'], [2, 'read-only']]);
  });
});

describe('statusAs', () => {
  it('returns the typed status of a target of that type, and refuses another type', () => {
    const s = { start: 0n, length: 8n, type: 'snapshot', status: { state: 'invalid' } };
    expect(statusAs(s, 'snapshot')).toEqual({ state: 'invalid' });
    expect(() => statusAs(s, 'thin')).toThrow(/snapshot, not thin/);
  });
});
