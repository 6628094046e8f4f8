// Filesystem and data helpers for the live-operation tests: ext4 on a device, a writer child that
// appends fixed-size numbered records and fsyncs each, checksums read past the page cache.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as dm from '../../src/dm';
import { testDir } from './loop';

export const MiB = 1024 * 1024;
export const RECORD = 4096;

export function mkfs(dev: string): void {
  // No lazy init: nothing writes to the device behind the test's back after mount.
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', dev], { stdio: 'pipe' });
}

let mounts = 0;
export function mount(dev: string, o: { readOnly?: boolean } = {}): string {
  const dir = path.join(testDir(), `mnt-${++mounts}`);
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'ext4', ...(o.readOnly ? ['-o', 'ro,noload'] : []), dev, dir], { stdio: 'pipe' });
  return dir;
}

export function umount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
}

/** fsck -n: exit status and output. */
export function fsck(dev: string): { status: number | null; output: string } {
  const r = spawnSync('fsck.ext4', ['-n', '-f', dev], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A file's bytes read from an unmounted ext4 image (debugfs), e.g. a snapshot's origin. */
export function debugfsCat(dev: string, file: string): Buffer {
  const r = spawnSync('debugfs', ['-R', `cat ${file}`, dev], { maxBuffer: 512 * MiB });
  if (r.status !== 0) throw new Error(`debugfs failed: ${r.stderr}`);
  return r.stdout;
}

/** sha256 of a whole block device, read with O_DIRECT (no stale page cache). */
export function deviceSum(dev: string): string {
  return execFileSync('sh', ['-c', `dd if='${dev}' bs=1M iflag=direct status=none | sha256sum`], { encoding: 'utf8' }).split(' ')[0];
}

/** Fills the device with a deterministic pattern (direct I/O). */
export function fillPattern(dev: string, seed: string, bytes: number): void {
  const buf = Buffer.alloc(bytes);
  // The same bytes as Buffer.from(...).copy(buf, i), without a Buffer per 32 bytes (slow in a TCG guest).
  for (let i = 0; i < bytes; i += 32) buf.write(`${seed}:${i}`.padEnd(32, '.'), i);
  const fd = fs.openSync(dev, 'r+');
  try {
    fs.writeSync(fd, buf, 0, bytes, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** How many valid records a log holds; throws if a record is out of order or torn. */
export function countRecords(data: Buffer): number {
  const n = Math.floor(data.length / RECORD);
  for (let i = 0; i < n; i++) {
    const head = data.subarray(i * RECORD, i * RECORD + 16).toString('latin1');
    if (!head.startsWith(`${i}\n`)) throw new Error(`record ${i} is torn or out of order: ${JSON.stringify(head)}`);
  }
  if (data.length % RECORD !== 0) throw new Error(`log length ${data.length} is not a whole number of records`);
  return n;
}

const WRITER = `
const fs = require('fs');
const [file, start] = process.argv.slice(1);
const fd = fs.openSync(file, 'a');
let i = Number(start), stop = false;
process.on('SIGTERM', () => { stop = true; });
const b = Buffer.alloc(${RECORD}, 0x2e);
function tick() {
  if (stop) { fs.closeSync(fd); process.exit(0); }
  b.fill(0x2e); b.write(i + '\\n');
  fs.writeSync(fd, b); fs.fsyncSync(fd);
  process.stdout.write(i + '\\n'); i++;
  setTimeout(tick, 2);
}
tick();
`;

/** A child process appending + fsyncing records to `file`; `synced` is how many are durable. */
export class Writer {
  synced: number;
  private child: ChildProcess;
  private exited: Promise<void>;
  constructor(readonly file: string) {
    this.synced = fs.existsSync(file) ? Math.floor(fs.statSync(file).size / RECORD) : 0;
    this.child = spawn(process.execPath, ['-e', WRITER, file, String(this.synced)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rest = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) this.synced = Number(l) + 1;
    });
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }
  /** Waits until at least `n` more records are synced. */
  async advance(n: number, timeoutMs = 60000): Promise<void> {
    const target = this.synced + n;
    for (const end = Date.now() + timeoutMs; this.synced < target; await sleep(20)) {
      if (Date.now() > end) throw new Error(`writer stuck at ${this.synced} (wanted ${target})`);
    }
  }
  async stop(): Promise<number> {
    this.child.kill('SIGTERM');
    await this.exited;
    return this.synced;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The device's condition in the terms every operation promises to restore. */
export function condition(name: string): { table: string; suspended: boolean; inactive: boolean } {
  const i = dm.infoSync(name);
  const table = dm.tableSync(name).map((t) => `${t.start} ${t.length} ${t.type} ${t.params}`).join('\n');
  return { table, suspended: i.flags.suspended, inactive: i.flags.inactivePresent };
}

/** Writes `mib` MiB of a pattern, 512 KiB at a time, each synced (off the event loop, so the
 *  watcher in this process runs meanwhile); returns false on the first EIO. */
export async function writeMiB(dev: string, mib: number, pauseMs = 30): Promise<boolean> {
  const fh = await fs.promises.open(dev, 'r+');
  try {
    const chunk = Buffer.alloc(512 * 1024);
    for (let off = 0; off < mib * MiB; off += chunk.length) {
      chunk.fill(`w${off}`);
      try {
        await fh.write(chunk, 0, chunk.length, off);
        await fh.datasync();
      } catch (err) {
        console.log(`writeMiB: ${(err as Error).message} at ${off} of ${mib * MiB}`);
        return false;
      }
      await sleep(pauseMs);
    }
    return true;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The hidden devices of a migration of `v` that exist (none once it is finished or aborted). */
export const migrationLeftovers = (v: string): string[] => dm.listDevicesSync().map((d) => d.name).filter((n) => n === `${v}-dmmove` || n === `${v}-dmold`);

/** The devices stacked on a block device (its holders in sysfs). */
export const holders = (dev: string): string[] => fs.readdirSync(`/sys/class/block/${path.basename(fs.realpathSync(dev))}/holders`);
