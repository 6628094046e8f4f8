// dmctl's live operations on the real kernel: replace, divert/describe/merge/discard, snapshots,
// the merge progress output and Ctrl-C during a merge.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { assertBuilt, dmctl, dmctlBackground, ok, okJson, untilOutput } from './cli-helpers';

const MiB = 1 << 20;
const loops: TestLoop[] = [];
let counter = 0;

beforeAll(() => assertBuilt());

afterAll(async () => {
  await sweep(testName(''));
  for (const l of loops) await l.cleanup();
  await removeTestDir();
});

async function track(size: number): Promise<TestLoop> {
  const l = await makeLoop(size);
  loops.push(l);
  return l;
}

/** A linear device over a fresh 16 MiB loop device. */
async function volume(tag: string): Promise<{ name: string; loop: TestLoop }> {
  const l = await track(16 * MiB);
  const name = testName(tag);
  await ok(['create', name, '--table', `0 32768 linear ${l.major}:${l.minor} 0`]);
  return { name, loop: l };
}

const cowFile = () => path.join(testDir(), `cow-${++counter}.img`);

function writeAt(dev: string, offset: number, data: Buffer): void {
  const fd = fs.openSync(dev, fs.constants.O_RDWR | fs.constants.O_SYNC);
  try {
    fs.writeSync(fd, data, 0, data.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

function readAt(dev: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(dev, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

const fill = (byte: number, n = MiB) => Buffer.alloc(n, byte);

describe('dmctl replace', () => {
  it('swaps the live table and reports the freeze', async () => {
    const { name } = await volume('cli-repl');
    const other = await track(16 * MiB);
    const r = await okJson(['replace', name, '--table', `0 32768 linear ${other.major}:${other.minor} 0`]);
    expect(r).toEqual({ name, freezeMs: expect.any(Number), order: [name] });
    expect(r.freezeMs).toBeGreaterThan(0);
    expect(dm.tableSync(name)[0].params).toBe(`${other.major}:${other.minor} 0`);
    expect((await ok(['replace', name, '--table', '0 32768 zero']))).toMatch(new RegExp(`^${name}: new table live; I/O paused \\d+\\.\\d ms\\n$`));
    expect((await dmctl(['replace', name, '--table', '0 32768 linear'])).code).toBe(3);
    expect((await dmctl(['replace', testName('cli-nosuch'), '--table', '0 8 zero'])).code).not.toBe(0);
  });
});

describe('dmctl divert / describe / merge / discard', () => {
  it('divert freezes the contents, merge brings the new writes back with progress lines', async () => {
    const { name, loop } = await volume('cli-div');
    const node = dm.nodePath(name);
    writeAt(node, 0, fill(0xaa, 4 * MiB));
    const d = await okJson(['divert', name, '--cow', cowFile(), '--size', '8M']);
    expect(d).toEqual({
      name,
      base: { name: `${name}-dmbase`, path: dm.nodePath(`${name}-dmbase`), dev: expect.stringMatching(/^\d+:\d+$/) },
      cow: { device: expect.stringMatching(/^\/dev\/loop\d+$/), dev: expect.stringMatching(/^\d+:\d+$/), file: expect.stringContaining('cow-'), owned: true },
      chunkSectors: 8, // the defaults: 4 KiB chunks, a persistent store without overflow reports
      persistent: 'P',
      freezeMs: expect.any(Number),
    });
    expect(d.freezeMs).toBeGreaterThan(0);
    writeAt(node, MiB, fill(0xbb));
    expect(readAt(d.base.path, MiB, 16).equals(fill(0xaa, 16))).toBe(true); // frozen
    expect(readAt(node, MiB, 16).equals(fill(0xbb, 16))).toBe(true);

    const desc = await okJson(['describe', name]);
    expect(desc).toMatchObject({ name, state: 'diverted', suspended: false, base: { name: `${name}-dmbase`, table: `0 32768 linear ${loop.major}:${loop.minor} 0\n` } });
    expect(desc.cow.status).toMatchObject({ state: 'active' });
    const text = await ok(['describe', name]);
    expect(text).toMatch(/^name: +\S+\nstate: +diverted\nsuspended: +no\nbase: +\S+-dmbase \(/);
    expect(text).toMatch(/\ncow: +\/dev\/loop\d+ \(\d+:\d+\), file \S+: \d+\.\d% full \(\d+\/\d+ sectors\)\n/);

    const m = await dmctl(['merge', name], { env: { DMCTL_PROGRESS_MS: '0' } });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toBe(`${name}: merged; back on its original table\n`);
    const lines = m.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^merge: \d+\.\d% \(\S+ of \S+\), \S+\/s, \S+ left$/);
    expect(lines[lines.length - 1]).toMatch(/^merge: 100\.0% /);

    expect((await okJson(['describe', name]))).toMatchObject({ state: 'plain' });
    expect(dm.tableSync(name)).toEqual([{ start: 0n, length: 32768n, type: 'linear', params: `${loop.major}:${loop.minor} 0` }]);
    expect(readAt(node, MiB, 16).equals(fill(0xbb, 16))).toBe(true);
    expect(readAt(loop.path, MiB, 16).equals(fill(0xbb, 16))).toBe(true);
    expect(dm.listDevicesSync().some((x) => x.name === `${name}-dmbase`)).toBe(false);
  });

  it('discard drops the writes since the divert; merge --no-wait then merge finishes', async () => {
    const { name } = await volume('cli-disc');
    const node = dm.nodePath(name);
    writeAt(node, 0, fill(0x11));
    await ok(['divert', name, '--cow', cowFile(), '--size', '4M']);
    writeAt(node, 0, fill(0x22));
    expect((await ok(['discard', name]))).toBe(`${name}: writes since the divert dropped; back on its original table\n`);
    expect(readAt(node, 0, 16).equals(fill(0x11, 16))).toBe(true);

    await ok(['divert', name, '--cow', cowFile(), '--size', '4M']);
    writeAt(node, 0, fill(0x33));
    expect((await okJson(['merge', '--no-wait', name]))).toEqual({ name, state: 'merging' });
    expect((await okJson(['describe', name])).state).toMatch(/^merging$/);
    expect((await okJson(['merge', '-q', name]))).toEqual({ name, state: 'done' });
    expect(readAt(node, 0, 16).equals(fill(0x33, 16))).toBe(true);
  });

  it('refusals: merge of a plain device exits 10; divert of a missing device exits non-zero; --cow file needs --size', async () => {
    const { name } = await volume('cli-refuse');
    const r = await dmctl(['merge', name]);
    expect(r.code, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/^dmctl: merge failed at step "inspect": .*only a diverted device can be merged/);
    expect((await dmctl(['divert', testName('cli-nodev'), '--cow', cowFile(), '--size', '4M'])).code).not.toBe(0);
    const noSize = await dmctl(['divert', name, '--cow', path.join(testDir(), 'nope.img')]);
    expect(noSize.code).toBe(2);
    expect(noSize.stderr).toMatch(/give --size/);
  });

  it('Ctrl-C during a merge stops waiting, says the merge goes on, and exits 130', async () => {
    // A slow base (every write delayed) keeps the merge going long enough to interrupt it. Reads
    // stay fast: where udev runs, its probes read every new or written device.
    const l = await track(16 * MiB);
    const slow = testName('cli-slow');
    await ok(['create', slow, '--table', `0 32768 delay ${l.major}:${l.minor} 0 0 ${l.major}:${l.minor} 0 300`]);
    const si = (await okJson(['info', slow]))[0];
    const name = testName('cli-intr');
    await ok(['create', name, '--table', `0 32768 linear ${si.major}:${si.minor} 0`]);
    await ok(['divert', name, '--cow', cowFile(), '--size', '8M', '--chunk', '8']);
    const node = dm.nodePath(name);
    const fd = fs.openSync(node, fs.constants.O_RDWR | fs.constants.O_SYNC); // one close, one udev probe
    try {
      for (let i = 0; i < 40; i++) fs.writeSync(fd, fill(0x44, 4096), 0, 4096, i * 256 * 1024);
    } finally {
      fs.closeSync(fd);
    }
    const m = dmctlBackground(['merge', name], { DMCTL_PROGRESS_MS: '0' });
    await untilOutput(m, /^merge: /m);
    m.child.kill('SIGINT');
    const r = await m.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.trim().split('\n').pop()).toBe(
      `dmctl: stopped waiting; the merge goes on in the kernel. Follow and finish it with 'dmctl merge ${name}', or look with 'dmctl describe'`,
    );
    expect((await okJson(['describe', name])).state).toBe('merging');
  });
});

describe('dmctl snapshot create / remove / rollback', () => {
  it('a snapshot keeps the old contents; rollback brings them back; remove drops one', async () => {
    const { name } = await volume('cli-orig');
    const node = dm.nodePath(name);
    writeAt(node, 0, fill(0x55));
    const snap = testName('cli-snap1');
    const s = await okJson(['snapshot', 'create', name, snap, '--cow', cowFile(), '--size', '4M']);
    expect(s).toMatchObject({ name: snap, path: dm.nodePath(snap), origin: name, cow: { owned: true } });
    writeAt(node, 0, fill(0x66));
    expect(readAt(dm.nodePath(snap), 0, 16).equals(fill(0x55, 16))).toBe(true);
    expect((await okJson(['describe', name]))).toMatchObject({ state: 'origin', snapshots: [expect.objectContaining({ name: snap })] });
    expect((await okJson(['describe', snap]))).toMatchObject({ state: 'snapshot', origin: name });

    const other = testName('cli-snap2');
    await ok(['snapshot', 'create', name, other, '--cow', cowFile(), '--size', '4M']);
    expect((await okJson(['snapshot', 'remove', other]))).toEqual({ name: other, removed: true });
    expect((await dmctl(['info', other])).code).toBe(4);

    const r = await dmctl(['snapshot', 'rollback', snap], { env: { DMCTL_PROGRESS_MS: '0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rolled back to /);
    expect(readAt(node, 0, 16).equals(fill(0x55, 16))).toBe(true);
    expect((await dmctl(['info', snap])).code).toBe(4);
    expect((await okJson(['describe', name])).state).toBe('plain');
  });
});
