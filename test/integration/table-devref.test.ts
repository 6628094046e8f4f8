// Device references on the real kernel: a table may name a device by path (/dev/loopN,
// /dev/mapper/x), by "major:minor" or by { major, minor }; the kernel answers in major:minor, and
// devPath / devPathFormatter map that back to the path.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { devPath, formatTable, parseTable, resolveDevRef, type Target } from '../../src/table';
import { devPathFormatter, kernelDeviceProvider, loadTable, readTable } from '../../src/table/kernel';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { devNum, dmsetup, kernelTableText, makeDevice, MiB } from '../helpers/table';

const { loop } = useTestDevices();

describe('device references', () => {
  it('a path, "major:minor" and { major, minor } load as the same device; the kernel answers major:minor; devPath gives the path back', async () => {
    const l = await loop();
    const name = await makeDevice('refs', [
      { start: 0n, length: 1024n, type: 'linear', device: l.path, offset: 0n },
      { start: 1024n, length: 1024n, type: 'linear', device: devNum(l), offset: 1024n },
      { start: 2048n, length: 1024n, type: 'linear', device: { major: l.major, minor: l.minor }, offset: 2048n },
    ]);
    const m = devNum(l);
    const text = `0 1024 linear ${m} 0\n1024 1024 linear ${m} 1024\n2048 1024 linear ${m} 2048\n`;
    expect(await kernelTableText(name)).toBe(text);
    expect(dmsetup('table', name)).toBe(text);
    const back = await readTable(name);
    expect(back.map((t) => (t as { device: string }).device)).toEqual([m, m, m]);
    expect(devPath(l.major, l.minor)).toBe(l.path);
    expect(formatTable(back, { dev: devPathFormatter() })).toBe(`0 1024 linear ${l.path} 0\n1024 1024 linear ${l.path} 1024\n2048 1024 linear ${l.path} 2048\n`);
  });

  it('a /dev/mapper path names a dm device: stacked tables load by path, read back as major:minor, and map back to /dev/mapper/<name>', async () => {
    const l = await loop();
    const lower = await makeDevice('lower', [{ start: 0n, length: 8192n, type: 'linear', device: l.path, offset: 0n }]);
    const info = await dm.info(lower);
    const lowerPath = dm.nodePath(lower);
    expect(resolveDevRef(lowerPath)).toEqual({ major: info.major, minor: info.minor });
    // A table written as text with paths, as a user would.
    const upper = await makeDevice('upper', parseTable(`0 4096 linear ${lowerPath} 4096\n4096 2048 zero\n`));
    expect(await kernelTableText(upper)).toBe(`0 4096 linear ${devNum(info)} 4096\n4096 2048 zero \n`);
    const back = await readTable(upper);
    expect(back[0]).toEqual({ start: 0n, length: 4096n, type: 'linear', device: devNum(info), offset: 4096n } satisfies Target);
    expect(devPath(info.major, info.minor)).toBe(lowerPath);
    expect(formatTable(back, { dev: devPathFormatter() })).toBe(`0 4096 linear ${lowerPath} 4096\n4096 2048 zero \n`);
    expect((await dm.deps(upper)).map(devNum)).toEqual([devNum(info)]);
  });

  it('kernelDeviceProvider: sizes from sysfs for paths, major:minor and dm devices; a path and its number are the same device', async () => {
    const l = await loop(4 * MiB);
    const dev = await makeDevice('sized', [{ start: 0n, length: 3000n, type: 'zero' }]);
    const p = kernelDeviceProvider();
    expect(p.sizeOf(l.path)).toBe(8192n);
    expect(p.sizeOf(devNum(l))).toBe(8192n);
    expect(p.sizeOf(dm.nodePath(dev))).toBe(3000n);
    expect(p.sizeOf('/dev/no-such-disk')).toBeUndefined();
    expect(p.sizeOf('4095:7')).toBeUndefined();
    expect(p.identify(l.path)).toBe(p.identify({ major: l.major, minor: l.minor }));
    expect(p.identify(l.path)).toBe(devNum(l));
    // A regular file is not a block device.
    expect(p.sizeOf(l.file)).toBeUndefined();
    expect(fs.statSync(l.file).isFile()).toBe(true);
  });

  it('a dm device that never had a table is refused as a device: 6.1 adds its disk only at the first load', async () => {
    const l = await loop();
    const empty = testName('empty');
    await dm.create(empty);
    const name = testName('over-empty');
    await dm.create(name);
    const err = await loadTable(name, [{ start: 0n, length: 8n, type: 'linear', device: dm.nodePath(empty), offset: 0n }]).catch((e) => e);
    expect(err).toMatchObject({ name: 'TableError', line: 1 });
    // No disk yet (no sysfs entry): missing, not a device of size 0.
    const { major, minor } = dm.infoSync(empty);
    expect(fs.existsSync(`/sys/dev/block/${major}:${minor}`)).toBe(false);
    expect(err.rule).toBe('device-missing');
    expect((await dm.info(name)).flags.inactivePresent).toBe(false);
    await loadTable(name, [{ start: 0n, length: 8n, type: 'linear', device: l.path, offset: 0n }]);
  });
});
