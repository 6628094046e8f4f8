// Migration of a live, mounted, written device on the real kernel (the mirror target copies): it
// ends as one linear over the new disk with the writer's log whole and the old disk unchanging; an
// abort in the middle ends on the old disk with every write; a SIGKILL in the middle, then
// `dmctl recover --wait`, ends consistent; bad destinations and tables are refused, changing nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import type { TestLoop } from '../helpers/loop';
import { condition, deviceSum, holders, migrationLeftovers, MiB, mkfs, mount } from '../helpers/ops';
import { beforeCleanup, killAt, pointsOf, settled, somePoints, useStateDir } from '../helpers/recover';
import { assertBuilt, DMCTL, dmctl, okJson } from './cli-helpers';

useStateDir();
const { loop, mounts, ext4WithWriter, finishWriter, twoSegmentDevice, slowDisk } = useTestDevices({ beforeCleanup });

const failure = (p: Promise<unknown>): Promise<ops.OperationError> => p.then(() => { throw new Error('it did not fail'); }, (e: unknown) => e as ops.OperationError);
const ours = migrationLeftovers;

describe('migrate', () => {
  it('a mounted ext4 being written moves to the new disk: one linear over it, the log whole, clean, the old disk unused', async () => {
    const { name: v, loop: old } = await twoSegmentDevice('v', 32);
    const { mnt, w } = await ext4WithWriter(v, 30);
    const dest = await loop(32 * MiB);
    const seen: ops.MigrateProgress[] = [];
    const before = w.synced;
    // Started without waiting, then followed to its end (as `dmctl migrate NAME --no-wait`, then
    // `dmctl migrate NAME`).
    const started = await ops.migrate(v, { to: dest.path, wait: false });
    expect(started).toMatchObject({ name: v, state: 'migrating', to: `${dest.major}:${dest.minor}` });
    expect(started.freezeMs).toHaveLength(1);
    const r = await ops.migrate(v, { pollMs: 50, onProgress: (p) => seen.push(p) });
    expect(r).toMatchObject({ name: v, state: 'done', to: `${dest.major}:${dest.minor}` });
    expect(r.freezeMs).toHaveLength(1);
    expect(w.synced).toBeGreaterThan(before); // written during the copy
    expect(seen.at(-1)).toEqual({ done: BigInt(32 * MiB), total: BigInt(32 * MiB) });
    expect(dm.tableSync(v)).toEqual([{ start: 0n, length: BigInt(32 * 2048), type: 'linear', params: `${dest.major}:${dest.minor} 0` }]);
    expect(ours(v)).toEqual([]);
    expect(holders(old.path)).toEqual([]);
    // The old disk stops changing while the writer goes on.
    const oldSum = deviceSum(old.path);
    await w.advance(20);
    expect(deviceSum(old.path)).toBe(oldSum);
    await finishWriter(w, mnt, v);
    // The new disk alone holds the device's files.
    expect(deviceSum(dest.path)).toBe(deviceSum(dm.nodePath(v)));
    expect((await ops.describe(v)).state).toBe('plain');
    expect(await ops.recover()).toEqual([]);
  }, 300_000);

  it('aborted in the middle: back on its own table and disk, every write kept; the new disk is let go', async () => {
    const { name: v } = await twoSegmentDevice('v', 32);
    const was = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 30);
    const dest = await slowDisk(32, 40);
    const started = await ops.migrate(v, { to: dest.path, wait: false });
    expect(started.state).toBe('migrating');
    const d = await ops.describe(v);
    expect(d.state).toBe('migrating');
    expect(d.migration!.inSyncRegions).toBeLessThan(d.migration!.totalRegions);
    await w.advance(30);
    // Another operation is refused while it migrates.
    expect((await failure(ops.divert(v, { cow: { file: path.join(path.dirname(mnt), 'x.cow'), size: '8M' } }))).message).toMatch(/is migrating, not plain/);
    const a = await ops.migrate(v, { abort: true });
    expect(a.state).toBe('aborted');
    expect(condition(v)).toEqual({ ...was, table: was.table });
    expect(ours(v)).toEqual([]);
    expect(dm.infoSync(dest.name).openCount).toBe(0);
    await finishWriter(w, mnt, v);
    await dm.remove(dest.name);
  }, 300_000);

  it('SIGKILL of dmctl migrate in the middle, then dmctl recover --wait: on the new disk, consistent; Ctrl-C cancels', async () => {
    assertBuilt();
    const { name: v } = await twoSegmentDevice('v', 32);
    const was = condition(v);
    const { mnt, w } = await ext4WithWriter(v, 30);
    const dest = await slowDisk(32, 40);
    const child = spawn(process.execPath, [DMCTL, 'migrate', v, '--to', dest.path], { env: { ...process.env, DMCTL_PROGRESS_MS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (x) => (err += x));
    for (const end = Date.now() + 120_000; !/migrate: [1-9]/.test(err); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`dmctl migrate never showed progress: ${err}`);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await ops.describe(v)).state).toBe('migrating'); // the kernel goes on copying
    await w.advance(20);
    const reports = await okJson<ops.RecoverReport[]>(['recover', '--wait']);
    expect(reports).toEqual([expect.objectContaining({ device: v, state: 'plain', did: [`finished the migration to ${dm.infoSync(dest.name).major}:${dm.infoSync(dest.name).minor}`] })]);
    expect(dm.tableSync(v)[0].params).toBe(`${dm.infoSync(dest.name).major}:${dm.infoSync(dest.name).minor} 0`);
    expect(ours(v)).toEqual([]);
    await finishWriter(w, mnt, v);
    expect(deviceSum(dest.path)).toBe(deviceSum(dm.nodePath(v)));

    // Ctrl-C while following: cancelled, back on its own disk (the new one, now).
    const back = await slowDisk(40, 40);
    const c2 = spawn(process.execPath, [DMCTL, 'migrate', v, '--to', back.path], { env: { ...process.env, DMCTL_PROGRESS_MS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err2 = '';
    c2.stderr!.setEncoding('utf8').on('data', (x) => (err2 += x));
    for (const end = Date.now() + 120_000; !/migrate: /.test(err2); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > end || c2.exitCode !== null) throw new Error(`dmctl migrate never showed progress: ${err2}`);
    }
    c2.kill('SIGINT');
    expect(await new Promise((r) => c2.once('exit', r))).toBe(130);
    expect(err2).toMatch(/migration cancelled; \S+ stays on its old disk \d+:\d+, every write kept/);
    expect(dm.tableSync(v)[0].params).toBe(`${dm.infoSync(dest.name).major}:${dm.infoSync(dest.name).minor} 0`);
    expect(ours(v)).toEqual([]);
    expect(was.table).not.toBe(condition(v).table);
    await dm.remove(v);
    await dm.remove(dest.name);
    await dm.remove(back.name);
  }, 300_000);

  it('killed at a step of the start, the finish or an abort: recover --wait ends on one disk or the other, consistent', async () => {
    // Room for the writer's log through every kill of a DEVMAPPER_KILL_ALL run.
    const { name: v, loop: first } = await twoSegmentDevice('v', 48);
    const { mnt, w } = await ext4WithWriter(v, 10);
    const disk = async (): Promise<TestLoop> => loop(48 * MiB);
    // The steps a clean run passes: start and finish (wait), then an abort of a second start.
    const d1 = await disk();
    const forward = await pointsOf(['migrate', 'finish-migration'], () => ops.migrate(v, { to: d1.path }));
    const d2 = await disk();
    await ops.migrate(v, { to: d2.path, wait: false });
    const backward = await pointsOf(['abort-migration'], () => ops.migrate(v, { abort: true }));
    const onDisk = (l: TestLoop): boolean => dm.tableSync(v).length === 1 && dm.tableSync(v)[0].params === `${l.major}:${l.minor} 0`;
    let here: TestLoop = d1;
    expect(onDisk(here)).toBe(true);
    for (const point of [...somePoints(forward, 'migrate'), ...somePoints(backward, 'abort-migration', 1)]) {
      const to = await disk();
      const aborting = point.startsWith('abort-migration:');
      if (aborting) await ops.migrate(v, { to: to.path, wait: false });
      await killAt('migrate', [v], aborting ? { abort: true } : { to: to.path }, point);
      // (No writes wait here: a kill in the finish leaves V suspended until recover resumes it.)
      const reports = await ops.recover({ wait: true });
      // Nothing to recover when the kill came before the record was written.
      expect(reports.map((r) => [r.device, r.state]), point).toEqual(reports.length ? [[v, 'plain']] : []);
      settled([v, `${v}-dmmove`, `${v}-dmold`]);
      expect(ours(v), point).toEqual([]);
      // Undone (on the disk it was on), or done (on the new one).
      expect(onDisk(here) || onDisk(to), `${point}: ${dm.tableSync(v)[0].params}`).toBe(true);
      if (onDisk(to)) here = to;
      await w.advance(5, 20_000).catch((e: Error) => {
        throw new Error(`after a kill at ${point} and recover (${JSON.stringify(reports.map((r) => r.did))}): ${e.message}; ${JSON.stringify(dm.infoSync(v).flags)}`);
      });
    }
    await finishWriter(w, mnt, v);
    expect(first).toBeDefined();
  }, 600_000);

  it('made again on its old table by someone else while its migration was finishing: recover refuses to drop the record, touching nothing', async () => {
    const { name: v } = await twoSegmentDevice('v', 16);
    const dest = await loop(16 * MiB);
    // Past the finish's point of no return (the record says finishing), V not yet on the new disk.
    await killAt('migrate', [v], { to: dest.path }, 'finish-migration:suspend V');
    // As a boot script would after a reboot: V made again from its old table, the helpers gone.
    const own = dm.tableSync(`${v}-dmold`);
    await dm.clearTable(v);
    for (const n of [v, `${v}-dmmove`, `${v}-dmold`]) await dm.remove(n);
    await dm.create(v);
    await dm.loadRawTable(v, own);
    await dm.resume(v);
    const records = path.join(process.env.DEVMAPPER_STATE_DIR!, 'migrations');
    const reports = await ops.recover();
    expect(reports).toEqual([expect.objectContaining({ device: v, state: 'refused', error: expect.stringMatching(new RegExp(`its migration there was finishing: writes made after its switch are on ${dest.path} only`)) })]);
    expect(dm.tableSync(v)).toEqual(own);
    expect(fs.readdirSync(records).filter((f) => !f.startsWith('.'))).toHaveLength(1);
    const cli = await dmctl(['recover']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr + cli.stdout).toMatch(/was finishing/);
    // Once the user has looked and deleted the record, nothing is left to recover.
    for (const f of fs.readdirSync(records)) fs.rmSync(path.join(records, f));
    expect(await ops.recover()).toEqual([]);
  }, 300_000);

  it('refused, changing nothing: the device itself, a disk under it, a small, mounted or open disk, a crypt table, no migration to follow', async () => {
    const { name: v, loop: under } = await twoSegmentDevice('v', 16);
    const was = condition(v);
    const small = await loop(8 * MiB);
    const mountedDisk = await loop(16 * MiB);
    mkfs(mountedDisk.path);
    mounts.push(mount(mountedDisk.path));
    const cases: Array<[string, RegExp]> = [
      [dm.nodePath(v), /destination .*/],
      [under.path, /destination .*/],
      [small.path, /is too small: 8388608 bytes, at least 16777216 needed/],
      [mountedDisk.path, /is mounted on/],
    ];
    for (const [to, why] of cases) {
      const e = await failure(ops.migrate(v, { to }));
      expect(e.step, to).toBe('inspect');
      expect(e.message, to).toMatch(why);
      expect(condition(v)).toEqual(was);
      expect(ours(v)).toEqual([]);
    }
    expect((await failure(ops.migrate(v))).message).toMatch(/is plain: give a destination/);
    expect((await failure(ops.migrate(v, { abort: true }))).message).toMatch(/no migration to abort/);
    const z = testName('z');
    await dm.create(z);
    await dm.loadRawTable(z, [{ start: 0n, length: 2048n, type: 'zero', params: '' }]);
    await dm.resume(z);
    expect((await failure(ops.migrate(z, { to: (await loop(2 * MiB)).path }))).message).toMatch(/has a zero target: migrate moves tables of linear or striped segments/);
    await dm.remove(z);
    const cli = await dmctl(['migrate', v, '--to', under.path]);
    expect(cli.code).toBe(5);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
  }, 300_000);
});
