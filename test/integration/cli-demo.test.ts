// The demo (npm run demo) end to end on the real kernel, and interrupted half-way: both leave
// nothing behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import { assertBuilt, ROOT, sleep } from './cli-helpers';

const DEMO = path.join(ROOT, 'scripts', 'demo.js');

beforeAll(() => assertBuilt());

function runDemo(args: string[], interruptOn?: RegExp) {
  const child = spawn(process.execPath, [DEMO, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.on('data', (d) => {
    stdout += d;
    if (interruptOn && !sent && interruptOn.test(stdout)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string; pid: number }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr, pid: child.pid! })),
  );
}

async function leftovers(pid: number): Promise<string[]> {
  const prefix = `dmdemo-${pid}`;
  const devs = dm.listDevicesSync().filter((d) => d.name.startsWith(prefix)).map((d) => d.name);
  const loops = (await loop.list()).filter((l) => l.file.includes(`/${prefix}-`)).map((l) => l.path);
  const dirs = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`${prefix}-`));
  const nodes = fs.existsSync(dm.MAPPER_DIR) ? fs.readdirSync(dm.MAPPER_DIR).filter((n) => n.startsWith(prefix)) : [];
  return [...devs, ...loops, ...dirs, ...nodes];
}

describe('scripts/demo.js', () => {
  it('diverts a live ext4 volume under a writer, shows the frozen image, merges back, verifies every byte', async () => {
    const r = await runDemo(['--size', '64M', '--keep-going-ms', '1000']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/\$ dmctl --json divert dmdemo-\d+-vol --cow \S+ --size 64M\n/);
    expect(r.stdout).toMatch(/frozen image: the 4 seed files match byte for byte \(16 MiB\); [1-9]\d* of the writer's files, each a whole version it wrote before the freeze/);
    expect(r.stdout).toMatch(/\$ dmctl merge dmdemo-\d+-vol\n/);
    expect(r.stderr).toMatch(/^merge: 100\.0% /m);
    expect(r.stdout).toMatch(/state: +plain/);
    expect(r.stdout).toMatch(/verified \d+ files, \d+ MiB: every byte as last written \([1-9]\d* writes of 1 MiB, most of them while diverted and merging\)/);
    expect(r.stdout).toMatch(/nothing left behind\n\nDEMO OK\n$/);
    expect(await leftovers(r.pid)).toEqual([]);
  }, 600_000);

  it('interrupted (Ctrl-C) right after the divert: cleans up everything and exits 130', async () => {
    const r = await runDemo(['--size', '64M', '--keep-going-ms', '30000'], /== The frozen image/);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(130);
    expect(r.stdout).toMatch(/\ninterrupted: cleaning up\n/);
    expect(r.stdout).toMatch(/\nnothing left behind\n$/);
    expect(r.stdout).not.toMatch(/== Merge/); // no step starts after the interrupt
    await sleep(200);
    expect(await leftovers(r.pid)).toEqual([]);
  }, 600_000);

  it('interrupted during the merge: the merge stops being waited for, everything is removed', async () => {
    const r = await runDemo(['--size', '64M', '--keep-going-ms', '500'], /\$ dmctl merge /);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(130);
    expect(r.stdout).toMatch(/\nnothing left behind\n$/);
    expect(r.stdout).not.toMatch(/== Verify/);
    await sleep(200);
    expect(await leftovers(r.pid)).toEqual([]);
  }, 600_000);
});
