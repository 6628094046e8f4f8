// For the recovery tests: a state directory of their own, a live operation killed with SIGKILL at
// a chosen step (as a crash would), the steps an operation passes, and the checks that follow.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import { setFaultHook } from '../../src/ops';
import { readJson, recordFile } from '../../src/records';
import { testDir } from './loop';

const ROOT = path.join(__dirname, '..', '..');
const children: ReturnType<typeof spawn>[] = [];

/** Records go to a directory of the test file's own (the killed children inherit it). */
export function useStateDir(): void {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtest-state-'));
    process.env.DEVMAPPER_STATE_DIR = dir;
  });
  afterAll(() => {
    delete process.env.DEVMAPPER_STATE_DIR;
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

/** Before a test's devices are cleaned up: no fault hook, no child, no loop device on its files
 *  (recover attaches them). */
export async function beforeCleanup(): Promise<void> {
  setFaultHook();
  while (children.length) children.pop()!.kill('SIGKILL');
  for (const l of await loop.list()) if (l.file.startsWith(testDir())) await loop.detach(l.path).catch(() => undefined);
}

export const recordOf = (v: string): Record<string, any> | undefined => readJson(recordFile(v)) as Record<string, any> | undefined;

/** Runs `op` in a child that stops at `point`, and kills it there with SIGKILL. */
export async function killAt(op: string, args: string[], opts: object, point: string): Promise<void> {
  const child = spawn(process.execPath, [path.join(ROOT, 'test', 'helpers', 'ops-kill-child.cjs'), JSON.stringify({ op, args, opts, point })], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  for (const end = Date.now() + 120_000; !out.includes(`at ${point}`); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`the child never reached ${point}: ${out}`);
  }
  child.kill('SIGKILL');
  await exited;
}

/** The fault points a clean run of `run` passes, in order. */
export async function pointsOf(prefixes: string[], run: () => Promise<unknown>): Promise<string[]> {
  const points: string[] = [];
  setFaultHook((p) => void (prefixes.some((x) => p.startsWith(`${x}:`)) && points.push(p)));
  await run();
  setFaultHook();
  return points;
}

/** The first and last step, and one other picked afresh on every run (or `count` steps picked
 *  at random); the log names them, so that runs together cover every step at a bounded cost per
 *  run (each kill and recovery costs the CI budget some 20 s in the emulated guest).
 *  DEVMAPPER_KILL_ALL=1 kills at every step, for a run by hand. */
export function somePoints(all: string[], what: string, count?: number): string[] {
  if (process.env.DEVMAPPER_KILL_ALL === '1') count = all.length;
  const shuffled = (xs: string[]): string[] => xs.map((x) => [Math.random(), x] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  const picked = count === undefined ? [all[0], all[all.length - 1], ...shuffled(all.slice(1, -1)).slice(0, 1)] : shuffled(all).slice(0, count);
  const points = all.filter((p) => picked.includes(p));
  console.log(`${what}: killing at ${points.join(', ')} (of ${all.length} steps)`);
  return points;
}

/** Every named device that exists is active: not suspended, no inactive table. */
export function settled(names: string[]): void {
  for (const n of names) {
    const i = dm.listDevicesSync().some((d) => d.name === n) ? dm.infoSync(n) : undefined;
    if (i) expect({ n, s: i.flags.suspended, i: i.flags.inactivePresent }).toEqual({ n, s: false, i: false });
  }
}
