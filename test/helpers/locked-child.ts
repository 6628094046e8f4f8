// The first of two processes on one device at once: a node child running the built library
// (test/helpers/ops-locked-child.cjs) that stops with its locks held (at its first step, or for a
// backup in the middle of its copy) until the test lets it go on, once it has seen a second
// process meet it. The outcome is then the design's, not the scheduler's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { assertBuilt, ROOT, type Background } from '../integration/cli-helpers';
import { testDir } from './loop';

const CHILD = path.join(ROOT, 'test', 'helpers', 'ops-locked-child.cjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ChildResult {
  pid: number;
  ok: boolean;
  result?: any;
  error?: { name: string; code?: string; message: string };
}

/** A first process: `holding` resolves once it stopped, `go()` lets it go on, `done` is its end. */
export interface First {
  pid: number;
  done: Promise<ChildResult>;
  holding: Promise<void>;
  go(): void;
}

export interface LockedChildren {
  /** The first process: runs `op` (divert, merge, discard, snapshot, remove-snapshot, rollback,
   *  backup, migrate) and holds at its first step, or (`hold: 'copy'`, backup) once its copy has
   *  begun: the snapshot is made, its lock held, the partial image being written. */
  first(op: string, args: string[], opts?: object, hold?: 'first-step' | 'copy'): First;
  /** Children to kill if the test ends early (first() adds to it). */
  children: ReturnType<typeof spawn>[];
  /** Kills every tracked child (a first process still held must not hold locks past its test). */
  killAll(): void;
}

/** Registers beforeAll/afterAll for the file: dist/ must be built; a spare child is started
 *  ahead (loading node and the library takes seconds in a slow guest), idle until first() gives
 *  it its operation on stdin. Call it after useStateDir() (the children inherit its directory). */
export function useLockedChildren(): LockedChildren {
  const children: ReturnType<typeof spawn>[] = [];
  let spare: ReturnType<typeof spawn> | undefined;
  const warm = () => (spare ??= spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] }));
  beforeAll(() => {
    assertBuilt();
    warm();
  });
  afterAll(() => {
    spare?.kill('SIGKILL');
    spare = undefined;
  });

  let releases = 0;
  function first(op: string, args: string[], opts: object = {}, hold: 'first-step' | 'copy' = 'first-step'): First {
    const release = path.join(testDir(), `release-${++releases}`);
    const child = warm();
    spare = undefined;
    child.stdin!.end(`${JSON.stringify({ op, args, opts, release, hold })}\n`);
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const done = new Promise<ChildResult>((resolve, reject) =>
      child.on('close', (code) => {
        warm(); // for the next test, now that this one's is done
        const last = out.trim().split('\n').at(-1) ?? '';
        if (last.startsWith('{')) resolve(JSON.parse(last));
        else reject(new Error(`child exited ${code}: ${out}${err}`));
      }),
    );
    const holding = (async () => {
      for (const end = Date.now() + 120_000; !out.includes('holding '); await sleep(20)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`child did not reach its hold: ${out}${err}`);
      }
    })();
    return { pid: child.pid!, done, holding, go: () => fs.writeFileSync(release, '') };
  }

  return { first, children, killAll: () => { while (children.length) children.pop()!.kill('SIGKILL'); } };
}

/** Resolves once process `pid` has `file` open (dmctl opens a device's lock file to wait on it). */
export async function untilOpen(pid: number, file: string, b?: Background): Promise<void> {
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(20)) {
    if (b && b.out().code !== null) throw new Error(`dmctl exited ${b.out().code} before waiting for the lock: ${b.out().stderr}`);
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return;
    } catch {
      /* fds come and go */
    }
  }
  throw new Error(`process ${pid} never opened ${file}`);
}
