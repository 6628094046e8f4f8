// dmctl monitor (the long-running watcher, as dmeventd is to LVM) and dmctl grow-cow, as users run
// them: monitor in its own process, started before the devices it then finds, growing a diverted
// volume's file-backed COW while a writer syncs several times the store's size through it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { sweep, testName } from '../helpers/dm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { MiB, deviceSum, writeMiB } from '../helpers/ops';
import { assertBuilt, dmctl, dmctlBackground, ok, okJson, untilOutput } from './cli-helpers';

const loops: TestLoop[] = [];

beforeAll(async () => {
  assertBuilt();
  await sweep(testName(''));
});

afterAll(async () => {
  await sweep(testName(''));
  for (const l of loops) await l.cleanup();
  await removeTestDir();
});

async function volume(tag: string, mib: number): Promise<string> {
  const l = await makeLoop(mib * MiB);
  loops.push(l);
  const name = testName(tag);
  await ok(['create', name, '--table', `0 ${mib * 2048} linear ${l.major}:${l.minor} 0`]);
  return name;
}

type Event = { device: string; type: string; [k: string]: unknown };
const events = (stdout: string): Event[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);

describe('dmctl monitor', () => {
  it('--grow keeps a diverted volume writable through four times its COW size; warns; the merge keeps every byte; SIGTERM ends it', async () => {
    const v = await volume('mon-v', 40);
    const o = await volume('mon-o', 8);
    // Started first: it must find the divert and the snapshot made after it.
    const mon = dmctlBackground(['--json', 'monitor', '--grow', '--grow-at', '50']);
    await ok(['divert', v, '--cow', path.join(testDir(), 'mon.cow'), '--size', '8M']);
    await ok(['snapshot', 'create', o, testName('mon-s'), '--cow', path.join(testDir(), 'mon-s.cow'), '--size', '4M']);
    await untilOutput(mon, new RegExp(`"device":"${v}","type":"watching"`));
    await untilOutput(mon, new RegExp(`"device":"${testName('mon-s')}","type":"watching","state":"snapshot"`));

    // Paced at 512 KiB per 50 ms (and each synced): what a COW of a few MiB gives the monitor time
    // for is a fraction of a second, where a real store of gigabytes gives it seconds.
    const wrote = await writeMiB(dm.nodePath(v), 32, 50);
    expect(wrote, `monitor said:\n${mon.out().stdout}${mon.out().stderr}`).toBe(true);
    const sum = deviceSum(dm.nodePath(v));
    const d = await okJson(['describe', v]);
    expect(d.cow.status.state).toBe('active');
    expect(fs.statSync(path.join(testDir(), 'mon.cow')).size).toBeGreaterThan(32 * MiB);

    const merged = await dmctl(['merge', '-q', v]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(deviceSum(dm.nodePath(v))).toBe(sum);
    await untilOutput(mon, new RegExp(`"device":"${v}","type":"unwatched"`));
    await ok(['snapshot', 'remove', testName('mon-s')]);

    mon.child.kill('SIGTERM');
    const r = await mon.done;
    expect(r.code, r.stderr).toBe(0);
    const mine = events(r.stdout).filter((e) => e.device === v);
    // Growth at 50% comes before 80% is reached; each growth takes the level back under 50%,
    // which warns again when it is passed again.
    const warned = mine.filter((e) => e.type === 'warning').map((e) => e.threshold);
    expect(warned.length).toBeGreaterThanOrEqual(2);
    expect(new Set(warned)).toEqual(new Set([50]));
    const grown = mine.filter((e) => e.type === 'grown');
    expect(grown.length).toBeGreaterThanOrEqual(2);
    expect(grown[0]).toMatchObject({ fromBytes: 8 * MiB, toBytes: 16 * MiB }); // doubled, by default
    console.log(`growth took ${grown.map((g) => g.tookMs).join(', ')} ms`);
    expect(mine.map((e) => e.type)).not.toContain('invalid');
    expect(mine.map((e) => e.type)).not.toContain('error');
  });

  it('text output, named devices only, and bad options refused in one line', async () => {
    const v = await volume('mon-t', 8);
    const other = await volume('mon-u', 8);
    const mon = dmctlBackground(['monitor', v, '--thresholds', '1']);
    await untilOutput(mon, /following/);
    await ok(['divert', v, '--cow', path.join(testDir(), 'mon-t.cow'), '--size', '4M']);
    await ok(['divert', other, '--cow', path.join(testDir(), 'mon-u.cow'), '--size', '4M']);
    await untilOutput(mon, new RegExp(`^${v}: watching its COW store \\(diverted\\)$`, 'm'));
    expect(await writeMiB(dm.nodePath(v), 1, 0)).toBe(true);
    await untilOutput(mon, new RegExp(`^${v}: COW store \\d+\\.\\d% full \\(past 1%\\)$`, 'm'));
    mon.child.kill('SIGINT');
    const r = await mon.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(other);
    await ok(['discard', v]);
    await ok(['discard', other]);

    for (const [args, re] of [
      [['monitor', '--grow-at', '50'], /--grow-at, --grow-by and --grow-max need --grow/],
      [['monitor', '--grow', '--grow-at', '150'], /--grow-at must be a percentage/],
      [['monitor', '--thresholds', '10,x'], /--thresholds must be a percentage/],
    ] as const) {
      const bad = await dmctl([...args]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(re);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('dmctl grow-cow', () => {
  it('grows a diverted volume\'s COW file by hand; a plain device or a bad size is refused, changing nothing', async () => {
    const v = await volume('grow', 16);
    const cow = path.join(testDir(), 'grow.cow');
    const plain = await dmctl(['grow-cow', v, '--by', '4M']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/is plain: only a file-backed COW store can grow/);

    await ok(['divert', v, '--cow', cow, '--size', '4M']);
    const r = await okJson(['grow-cow', v, '--by', '4M']);
    expect(r).toMatchObject({ name: v, file: cow, fromBytes: 4 * MiB, bytes: 8 * MiB });
    expect(fs.statSync(cow).size).toBe(8 * MiB);
    expect(Number(r.totalSectors)).toBe(8 * 2048);
    expect((await okJson(['describe', v])).cow.status).toMatchObject({ state: 'active', total: 8 * 2048 });
    expect(await ok(['grow-cow', v, '--to', '12M'])).toMatch(new RegExp(`^${v}: COW store ${cow} grown from 8M to 12M; the kernel sees 12M$`, 'm'));

    const smaller = await dmctl(['grow-cow', v, '--to', '4M']);
    expect(smaller.code).toBe(2);
    expect(smaller.stderr).toMatch(/must be larger than the COW's/);
    expect((await dmctl(['grow-cow', v])).code).toBe(2);
    expect(fs.statSync(cow).size).toBe(12 * MiB);
    await ok(['discard', v]);
  });
});
