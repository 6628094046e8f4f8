// dmctl loop attach / detach / ls, and the exit codes of failures the kernel reports.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as loop from '../../src/loop';
import { sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { assertBuilt, dmctl, ok, okJson } from './cli-helpers';

const MiB = 1 << 20;
const attached: string[] = [];
const loops: TestLoop[] = [];

beforeAll(() => assertBuilt());

afterAll(async () => {
  await sweep(testName(''));
  for (const p of attached) await loop.detach(p).catch(() => undefined);
  for (const l of loops) await l.cleanup();
  await removeTestDir();
});

describe('dmctl loop', () => {
  it('attach creates the file at --size, prints the device; ls and detach', async () => {
    const file = path.join(testDir(), 'cli-a.img');
    const dev = (await ok(['loop', 'attach', file, '--size', '8M'])).trim();
    attached.push(dev);
    expect(dev).toMatch(/^\/dev\/loop\d+$/);
    expect(fs.statSync(file).size).toBe(8 * MiB);
    expect((await loop.info(dev)).file).toBe(file);

    const listed = await ok(['loop', 'ls']);
    expect(listed.split('\n')[0]).toMatch(/^DEVICE\s+SIZE\s+RO\s+OFFSET\s+FILE$/);
    expect(listed).toMatch(new RegExp(`^${dev}\\s+8M\\s+rw\\s+0\\s+${file}$`, 'm'));
    const json = (await okJson(['loop', 'ls'])).find((d: { path: string }) => d.path === dev);
    expect(json).toEqual({
      path: dev, number: Number(dev.slice(9)), major: 7, minor: expect.any(Number), file, deleted: false, size: 8 * MiB,
      offset: 0, sizeLimit: 0, readOnly: false, autoclear: false, partscan: false, directIo: false, blockSize: 512,
    });

    expect((await okJson(['loop', 'detach', dev]))).toEqual({ detached: [dev] });
    expect((await okJson(['loop', 'ls'])).some((d: { path: string }) => d.path === dev)).toBe(false);
  });

  it('attach --read-only --json; detach by number', async () => {
    const file = path.join(testDir(), 'cli-ro.img');
    fs.writeFileSync(file, Buffer.alloc(MiB));
    const d = await okJson(['loop', 'attach', file, '--read-only']);
    attached.push(d.path);
    expect(d).toEqual({ path: expect.stringMatching(/^\/dev\/loop\d+$/), number: expect.any(Number), major: 7, minor: expect.any(Number), file, readOnly: true, size: MiB });
    expect((await loop.info(d.path)).readOnly).toBe(true);
    expect((await ok(['loop', 'ls']))).toMatch(new RegExp(`^${d.path}\\s+1M\\s+ro\\s`, 'm'));
    await ok(['loop', 'detach', String(d.number)]);
  });

  it('detaching a device that is not attached exits 4; a missing file exits 4', async () => {
    const free = (await okJson(['loop', 'ls'])).length; // any number not bound
    const r = await dmctl(['loop', 'detach', `/dev/loop${200 + free}`]);
    expect(r.code, r.stderr).toBe(4);
    const m = await dmctl(['loop', 'attach', path.join(testDir(), 'missing', 'x.img')]);
    expect(m.code, m.stderr).toBe(4);
    expect(m.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('exit codes of failures the kernel reports', () => {
  it('no such device: 4, for info, table, status, remove, suspend, resume, message', async () => {
    const missing = testName('cli-nosuch');
    for (const args of [['info', missing], ['table', missing], ['status', missing], ['remove', missing], ['suspend', missing], ['resume', missing], ['message', missing, '0', '@stats_list']]) {
      const r = await dmctl(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toMatch(new RegExp(`^dmctl: [A-Z_]+ on ${missing} failed: ENXIO: no such device\\n$`));
      expect(r.stdout).toBe('');
    }
  });

  it('busy: 5; already exists: 7; refused by the kernel: 6', async () => {
    const l = await makeLoop(4 * MiB);
    loops.push(l);
    const lower = testName('cli-lower');
    await ok(['create', lower, '--table', `0 8192 linear ${l.major}:${l.minor} 0`]);
    const info = (await okJson(['info', lower]))[0];
    await ok(['create', testName('cli-upper'), '--table', `0 8192 linear ${info.major}:${info.minor} 0`]);

    const busy = await dmctl(['remove', lower]);
    expect(busy.code, busy.stderr).toBe(5);
    expect(busy.stderr).toMatch(/EBUSY/);

    const exists = await dmctl(['create', lower, '--table', '0 8 zero']);
    expect(exists.code, exists.stderr).toBe(7);

    // Past the end of the 4 MiB loop device: the table parses, the kernel refuses it.
    const refused = await dmctl(['create', testName('cli-toobig'), '--table', `0 999999 linear ${l.major}:${l.minor} 0`]);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/^dmctl: TABLE_LOAD on \S+ failed: EINVAL: the kernel refused the table/);
    expect((await dmctl(['info', testName('cli-toobig')])).code).toBe(4); // create rolled back

    const msg = await dmctl(['message', lower, '0', 'nonsense']);
    expect(msg.code, msg.stderr).toBe(6);
  });
});
