// dmctl's dmsetup verbs against the real kernel: each verb, its --json shape, and byte-for-byte
// agreement with dmsetup where dmsetup prints the same thing.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { geometryOf, sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { assertBuilt, DMSETUP, dmctl, dmctlBackground, dmsetup, ok, okJson, sleep, untilOutput } from './cli-helpers';

const MiB = 1 << 20;
let a: TestLoop;
let b: TestLoop;
const loops: TestLoop[] = [];

beforeAll(async () => {
  assertBuilt();
  if (!DMSETUP) throw new Error('dmsetup must be installed for the agreement tests');
  a = await makeLoop(16 * MiB);
  b = await makeLoop(16 * MiB);
  loops.push(a, b);
});

afterAll(async () => {
  await sweep(testName(''));
  for (const l of loops) await l.cleanup();
  await removeTestDir();
});

/** A two-segment table over loop a and a zero target. */
const twoLines = () => `0 8192 linear ${a.major}:${a.minor} 0\n8192 4096 zero\n`;

/** Output of dmctl and dmsetup for the same arguments, which must be byte-identical. Both run at
 *  once: only reports run side by side, never a change. */
async function agree(args: string[]): Promise<string> {
  const [ours, theirs] = await Promise.all([dmctl(args), dmsetup(args)]);
  expect(theirs.code, theirs.stderr).toBe(0);
  expect(ours.code, ours.stderr).toBe(0);
  expect(ours.stdout).toBe(theirs.stdout);
  return ours.stdout;
}

/**
 * Runs reports side by side, a few at a time (dmctl takes seconds to start in a slow guest), and
 * throws the first failure once all have ended. Only for reports: nothing may change a device
 * while they run, so each sees what it would see alone.
 */
async function together(...reports: (() => Promise<unknown>)[]): Promise<void> {
  const queue = [...reports];
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) await next().catch((e) => void errors.push(e));
  };
  await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
  if (errors.length) throw errors[0];
}

describe('dmctl create', () => {
  it('takes the table from --table, several lines, and makes the device live', async () => {
    const name = testName('cli-create');
    expect((await ok(['create', name, '--table', twoLines()]))).toBe('');
    expect(dm.tableSync(name).map((t) => t.type)).toEqual(['linear', 'zero']);
    expect(fs.statSync(dm.nodePath(name)).isBlockDevice()).toBe(true);
    const info = await okJson(['info', name]);
    expect(info).toEqual([
      {
        name, uuid: '', major: expect.any(Number), minor: expect.any(Number), state: 'ACTIVE', readOnly: false,
        readAhead: expect.any(Number), tables: { live: true, inactive: false }, openCount: 0, eventNr: expect.any(Number),
        targetCount: 2, deferredRemove: false,
      },
    ]);
  });

  it('takes the table from stdin, from --table-file and from a file argument; --json reports the device', async () => {
    const viaStdin = testName('cli-stdin');
    expect((await okJson(['create', viaStdin, '-u', `${viaStdin}-uuid`], { input: twoLines() }))).toMatchObject({
      name: viaStdin, uuid: `${viaStdin}-uuid`, state: 'ACTIVE', targetCount: 2,
    });
    const file = path.join(testDir(), 'table.txt');
    fs.writeFileSync(file, `# a comment\n\n0 2048 zero\n`);
    await ok(['create', testName('cli-tfile'), '--table-file', file]);
    await ok(['create', testName('cli-farg'), file]);
    expect(dm.tableSync(testName('cli-tfile'))).toEqual([{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
    expect(dm.tableSync(testName('cli-farg'))).toEqual([{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
  });

  it('--notable makes a device without a table; --readonly a read-only one', async () => {
    const bare = testName('cli-notable');
    await ok(['create', bare, '--notable']);
    await together(
      async () => expect((await okJson(['info', bare]))[0]).toMatchObject({ tables: { live: false, inactive: false }, targetCount: 0 }),
      () => agree(['info', bare]),
      () => agree(['table', bare]),
      () => agree(['status', bare]),
    );
    const ro = testName('cli-ro');
    await ok(['create', ro, '-r', '--table', '0 2048 zero']);
    await together(
      async () => expect((await okJson(['info', ro]))[0].readOnly).toBe(true),
      () => agree(['info', ro]),
    );
  });
});

describe('reports agree with dmsetup byte for byte', () => {
  it('table and status of one device, of every device, and with --target', async () => {
    const name = testName('cli-agree');
    await ok(['create', name, '--table', twoLines()]);
    await together(
      async () => expect((await agree(['table', name]))).toBe(`0 8192 linear ${a.major}:${a.minor} 0\n8192 4096 zero \n`),
      () => agree(['status', name]),
      () => agree(['table']),
      () => agree(['status']),
      () => agree(['table', '--target', 'zero']),
      () => agree(['status', '--target', 'zero']),
      () => agree(['status', name, '--target', 'linear']),
    );
  });

  it('status of a snapshot, table --inactive after load, and deps', async () => {
    const origin = testName('cli-origin');
    await ok(['create', origin, '--table', `0 32768 linear ${a.major}:${a.minor} 0`]);
    const snap = testName('cli-snap');
    await ok(['create', snap, '--table', `0 32768 snapshot ${a.major}:${a.minor} ${b.major}:${b.minor} P 8`]);
    await together(
      async () => expect((await agree(['status', snap]))).toMatch(/^0 32768 snapshot \d+\/\d+ \d+\n$/),
      () => agree(['deps', snap]),
      () => agree(['deps']),
    );
    await ok(['remove', snap]);

    await ok(['load', origin, '--table', '0 32768 zero']);
    await together(
      async () => expect((await agree(['table', '--inactive', origin]))).toBe('0 32768 zero \n'),
      async () => expect((await agree(['info', origin]))).toContain('Tables present:    LIVE & INACTIVE\n'),
    );
    await ok(['clear', origin]);
    expect((await okJson(['info', origin]))[0].tables).toEqual({ live: true, inactive: false });
  });

  it('crypt keys are zeroed in table unless --showkeys, as dmsetup does', async () => {
    const name = testName('cli-crypt');
    const key = '0123456789abcdef'.repeat(4);
    await ok(['create', name, '--table', `0 8192 crypt aes-xts-plain64 ${key} 0 ${b.major}:${b.minor} 0`]);
    await together(
      async () => {
        const hidden = await agree(['table', name]);
        expect(hidden).toContain(` ${'0'.repeat(64)} `);
        expect(hidden).not.toContain(key);
      },
      async () => expect((await agree(['table', name, '--showkeys']))).toContain(key),
      async () => expect(JSON.stringify((await okJson(['table', name])))).not.toContain(key),
    );
    await ok(['remove', name]);
  });

  it('info, ls, ls --target, targets, deps and version lines', async () => {
    const name = testName('cli-info');
    await ok(['create', name, '-u', `${name}-u`, '--table', '0 4096 zero']);
    await together(
      () => agree(['info', name]),
      () => agree(['info']),
      () => agree(['ls']),
      () => agree(['ls', '--target', 'zero']),
      () => agree(['targets']),
      () => agree(['deps', name]),
      async () => {
        const [ours, theirs] = (await Promise.all([ok(['version']), dmsetup(['version']).then((r) => r.stdout)])).map((o) => o.split('\n'));
        expect(ours[0]).toMatch(/^Library version:   devmapper \d+\.\d+\.\d+$/);
        expect(ours[1]).toBe(theirs[1]); // Driver version:    4.x.y
      },
    );
  });
});

describe('--json shapes', () => {
  it('version, targets, ls, ls --tree, table, status, deps', async () => {
    const lower = testName('cli-jlower');
    const upper = testName('cli-jupper');
    await ok(['create', lower, '--table', `0 8192 linear ${a.major}:${a.minor} 0`]);
    const li = (await okJson(['info', lower]))[0];
    await ok(['create', upper, '--table', `0 8192 linear ${li.major}:${li.minor} 0`]);

    await together(
      async () => {
        const v = await okJson(['version']);
        expect(v).toEqual({ library: { name: 'devmapper', version: expect.any(String) }, driver: { major: 4, minor: expect.any(Number), patch: expect.any(Number), version: expect.stringMatching(/^4\.\d+\.\d+$/) } });
      },
      async () => expect((await okJson(['targets']))).toContainEqual({ name: 'linear', version: expect.stringMatching(/^\d+\.\d+\.\d+$/) }),
      async () => expect((await okJson(['ls']))).toContainEqual({ name: lower, major: li.major, minor: li.minor, uuid: expect.toBeOneOf([null, '']), eventNr: expect.any(Number) }),
      async () => {
        const [roots, drawn] = await Promise.all([okJson(['ls', '--tree']), ok(['ls', '--tree'])]);
        const top = roots.find((r: { name: string }) => r.name === upper);
        expect(top).toEqual({
          name: upper, major: expect.any(Number), minor: expect.any(Number), dm: true,
          children: [{ name: lower, major: li.major, minor: li.minor, dm: true, children: [{ name: `loop${a.number}`, major: a.major, minor: a.minor, dm: false, children: [] }] }],
        });
        expect(roots.some((r: { name: string }) => r.name === lower)).toBe(false);
        expect(drawn).toContain(`${upper} (${top.major}:${top.minor})\n └─${lower} (${li.major}:${li.minor})\n    └─(${a.major}:${a.minor})\n`);
      },
      async () => expect((await okJson(['table', lower]))).toEqual([{ name: lower, targets: [{ start: 0, length: 8192, type: 'linear', params: `${a.major}:${a.minor} 0` }] }]),
      async () => expect((await okJson(['status', lower]))).toEqual([{ name: lower, targets: [{ start: 0, length: 8192, type: 'linear', params: '', parsed: {} }] }]),
      async () => expect((await okJson(['deps', upper]))).toEqual([{ name: upper, deps: [{ major: li.major, minor: li.minor }] }]),
    );
    await ok(['remove', upper, lower]);
  });
});

describe('changing devices', () => {
  it('suspend --noflush --nolockfs, resume, reload', async () => {
    const name = testName('cli-susp');
    await ok(['create', name, '--table', '0 2048 zero']);
    expect((await okJson(['suspend', '--noflush', '--nolockfs', name]))).toEqual([expect.objectContaining({ name, state: 'SUSPENDED' })]);
    expect((await agree(['info', name]))).toContain('State:             SUSPENDED\n');
    await ok(['reload', name, '--table', '0 4096 error']);
    expect((await okJson(['resume', name]))).toEqual([expect.objectContaining({ name, state: 'ACTIVE', tables: { live: true, inactive: false } })]);
    expect(dm.tableSync(name)).toEqual([{ start: 0n, length: 4096n, type: 'error', params: '' }]);
  });

  it('rename to a new name and --setuuid; the node follows', async () => {
    const name = testName('cli-ren1');
    const to = testName('cli-ren2');
    await ok(['create', name, '--table', '0 2048 zero']);
    expect((await okJson(['rename', name, to]))).toMatchObject({ name: to });
    expect(fs.existsSync(dm.nodePath(to))).toBe(true);
    expect(fs.existsSync(dm.nodePath(name))).toBe(false);
    await ok(['rename', to, '--setuuid', `${to}-uuid`]);
    expect((await okJson(['info', '-u', `${to}-uuid`]))[0]).toMatchObject({ name: to, uuid: `${to}-uuid` });
  });

  it('remove (--retry, --deferred, --force) and mknodes', async () => {
    const plain = testName('cli-rm');
    await ok(['create', plain, '--table', '0 2048 zero']);
    expect((await okJson(['remove', '--retry', plain]))).toEqual([{ name: plain, removed: true, deferred: false }]);

    const held = testName('cli-rmdef');
    await ok(['create', held, '--table', '0 2048 zero']);
    const fh = await fs.promises.open(dm.nodePath(held), 'r');
    expect((await dmctl(['remove', held])).code).toBe(5); // busy
    expect((await okJson(['remove', '--deferred', held]))).toEqual([{ name: held, removed: false, deferred: true }]);
    expect((await okJson(['info', held]))[0].deferredRemove).toBe(true);
    await fh.close();
    await sleep(100);
    expect((await dmctl(['info', held])).code).toBe(4);

    const forced = testName('cli-rmforce');
    await ok(['create', forced, '--table', '0 2048 zero']);
    await ok(['remove', '--force', forced]);
    expect((await dmctl(['info', forced])).code).toBe(4);

    const nodes = testName('cli-nodes');
    await ok(['create', nodes, '--table', '0 2048 zero']);
    fs.rmSync(dm.nodePath(nodes));
    fs.writeFileSync(path.join(dm.MAPPER_DIR, testName('cli-stale')), '');
    fs.rmSync(path.join(dm.MAPPER_DIR, testName('cli-stale')));
    expect((await okJson(['mknodes'])).created).toContain(nodes);
    expect(fs.statSync(dm.nodePath(nodes)).isBlockDevice()).toBe(true);
  });

  it('message and setgeometry', async () => {
    const name = testName('cli-msg');
    await ok(['create', name, '--table', '0 2048 zero']);
    expect((await ok(['message', name, '0', '@stats_create', '-', '/1']))).toBe('0\n');
    expect((await okJson(['message', name, '0', '@stats_list']))).toEqual({ name, response: expect.stringContaining('0: 0+2048 2048') });
    await ok(['message', name, '0', '@stats_delete', '0']);
    expect((await okJson(['setgeometry', name, '1', '64', '32', '0']))).toEqual({ name, geometry: { cylinders: 1, heads: 64, sectors: 32, start: 0 } });
    expect(geometryOf(name)).toEqual({ cylinders: 1, heads: 64, sectors: 32, start: 0 });
    await ok(['setgeometry', name, '5', '16', '63', '9']);
    expect(geometryOf(name)).toEqual({ cylinders: 5, heads: 16, sectors: 63, start: 9 });
  });

  it('wait returns on a device event; Ctrl-C stops waiting with exit 130', async () => {
    const snap = testName('cli-wait');
    const small = await makeLoop(64 * 1024);
    loops.push(small);
    await ok(['create', snap, '--table', `0 16384 snapshot ${a.major}:${a.minor} ${small.major}:${small.minor} P 8`]);
    const before = (await okJson(['info', snap]))[0].eventNr;
    // The event number is given, so the wait returns even if dmctl starts after the event.
    const w = dmctlBackground(['--json', 'wait', snap, String(before)]);
    const fh = await fs.promises.open(dm.nodePath(snap), fs.constants.O_RDWR | fs.constants.O_SYNC);
    await fh.write(Buffer.alloc(MiB, 0x5a), 0, MiB, 0).catch(() => undefined); // EIO once invalid
    await fh.close();
    const r = await w.done;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: snap, eventNr: before + 1 });

    const idle = dmctlBackground(['-v', 'wait', snap]);
    await untilOutput(idle, /waiting for an event after \d+ on /);
    idle.child.kill('SIGINT');
    const stopped = await idle.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(new RegExp(`\\(Ctrl-C stops waiting\\)\\ndmctl: stopped waiting for an event on ${snap}\\n$`));
    await ok(['remove', snap]);
  });

  it('remove_all removes only closed devices and reports what stayed', async () => {
    // Only our own devices exist in this guest; remove_all touches every device, so hold one open.
    const held = testName('cli-rall-held');
    const free = testName('cli-rall-free');
    await ok(['create', held, '--table', '0 2048 zero']);
    await ok(['create', free, '--table', '0 2048 zero']);
    const fh = await fs.promises.open(dm.nodePath(held), 'r');
    const r = await okJson(['remove_all']);
    expect(r.removed).toContain(free);
    expect(r.remaining).toContain(held);
    await fh.close();
    await ok(['remove', held]);
  });
});
