// Durable records of live arrangements (a diverted device, an origin with snapshots, a merge under
// way): the kernel's tables are gone after a reboot, so what it takes to rebuild or finish an
// arrangement is written to disk before the switch that needs it and at each commit point. A
// record is replaced atomically (a new file, fsync, rename over the old one, fsync of the
// directory): after a crash a reader finds the old record or the new one, never a mix.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Where records live: DEVMAPPER_STATE_DIR, else /var/lib/devmapper. */
export function stateDir(): string {
  return process.env.DEVMAPPER_STATE_DIR || '/var/lib/devmapper';
}

const SUFFIX = '.json';

/** A device name as a file name: '%' and anything a file name should not hold escaped as %xx. */
export function fileNameOf(device: string): string {
  return device.replace(/[^A-Za-z0-9._+:=@#-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A record's file: the device's name, escaped. */
export function recordFile(device: string, dir = stateDir()): string {
  return path.join(dir, `${fileNameOf(device)}${SUFFIX}`);
}

/** A record file that cannot be read as one: named, so that a person can look at it. */
export class RecordError extends Error {
  override name = 'RecordError';
  constructor(readonly file: string, why: string) {
    super(`record ${file}: ${why}`);
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `value` as `file` so that a crash leaves the old content or the new, whole. */
export function writeDurably(file: string, value: unknown): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

/** Removes `file` durably; true if it was there. */
export function removeDurably(file: string): boolean {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  fsyncDir(path.dirname(file));
  return true;
}

/** Reads a JSON record; undefined when there is none. Throws RecordError when it is not JSON. */
export function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RecordError(file, `not JSON (${(err as Error).message})`);
  }
}

/** The record files in `dir` (temporary files of interrupted writes excluded). */
export function recordFiles(dir = stateDir()): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.')).sort().map((n) => path.join(dir, n));
}

/** Temporary files an interrupted write left behind (recover deletes them), in `dir` and in the
 *  folders of records of their own under it (migrations, backups). */
export function strayTemporaries(dir = stateDir()): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const here = entries.filter((e) => e.isFile() && e.name.startsWith('.') && e.name.endsWith('.tmp')).map((e) => path.join(dir, e.name));
  const below = entries.filter((e) => e.isDirectory()).flatMap((e) => strayTemporaries(path.join(dir, e.name)));
  return [...here, ...below];
}
