// Loop devices for integration tests. Backing files live in os.tmpdir()/dmtest-<pid>-*, so a
// later run can tell leftovers of a crashed run (dead pid) from those of a live one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { attach, detach, list } from '../../src/loop';
import type { AttachOptions } from '../../src/loop';

const PREFIX = 'dmtest-';
let runDir: string | undefined;
let counter = 0;

export interface TestLoop {
  path: string;
  file: string;
  number: number;
  major: number;
  minor: number;
  /** Only with autoclear: see LoopDevice.release. */
  release?: () => Promise<void>;
  /** Detaches (if still attached) and deletes the backing file. */
  cleanup(): Promise<void>;
}

/** This process's temp dir, created on first use and removed when the process exits. */
export function testDir(): string {
  if (!runDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    runDir = dir;
  }
  return runDir;
}

/** For afterAll: removes this process's temp dir (test workers may be killed without an 'exit' event). */
export async function removeTestDir(): Promise<void> {
  const dir = runDir;
  runDir = undefined;
  if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
}

/** A fresh sparse file of `sizeBytes`, attached to a free loop device. */
export async function makeLoop(sizeBytes: number, opts: Omit<AttachOptions, 'size'> = {}): Promise<TestLoop> {
  const file = path.join(testDir(), `loop-${++counter}.img`);
  const dev = await attach(file, { ...opts, size: sizeBytes });
  let done = false;
  return {
    path: dev.path,
    file,
    number: dev.number,
    major: dev.major,
    minor: dev.minor,
    release: dev.release,
    async cleanup() {
      if (done) return;
      done = true;
      await dev.release?.();
      // The test may have detached it itself, or autoclear may have.
      await detach(dev.path).catch((err: { code?: string }) => {
        if (err.code !== 'ENXIO') throw err;
      });
      await fs.promises.rm(file, { force: true });
    },
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a dmtest dir's name if that process is gone, else undefined. */
function deadOwner(file: string): number | undefined {
  const rel = path.relative(os.tmpdir(), file);
  const m = /^dmtest-(\d+)-[^/]*\//.exec(rel);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return pid !== process.pid && !pidAlive(pid) ? pid : undefined;
}

/** Detaches loop devices left by crashed test runs and deletes their dirs; returns the devices. */
export async function sweepLoops(): Promise<string[]> {
  const swept: string[] = [];
  for (const d of await list()) {
    if (deadOwner(d.file) === undefined) continue;
    await detach(d.path).catch((err: { code?: string }) => {
      if (err.code !== 'ENXIO') throw err;
    });
    swept.push(d.path);
  }
  for (const name of await fs.promises.readdir(os.tmpdir())) {
    const dir = path.join(os.tmpdir(), name);
    if (name.startsWith(PREFIX) && deadOwner(path.join(dir, 'x')) !== undefined)
      await fs.promises.rm(dir, { recursive: true, force: true });
  }
  return swept;
}
