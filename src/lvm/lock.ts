// LVM2's own lock on a volume group: an flock on <locking_dir>/V_<vg>, locking_dir from lvm.conf's
// global section (lvm2's default: /run/lock/lvm). Holding it exclusively while devices are made or
// removed keeps dmctl from racing vgchange, lvcreate or another dmctl on the same VG, as two lvm2
// commands keep from racing each other.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../native';
import { child, parseConfigText } from './config-text';
import { LvmError } from './errors';

/** How long to wait for LVM2's lock on the VG. */
export interface VgLockOptions {
  /** In ms (default 10 s; 0: try once). */
  lockTimeoutMs?: number;
  /** Stops the wait (LvmError LOCKED; nothing was changed). */
  signal?: AbortSignal;
}

const DEFAULT_LOCKING_DIR = '/run/lock/lvm';
const DEFAULT_TIMEOUT_MS = 10_000;

/** lvm2's locking_dir: from $LVM_SYSTEM_DIR/lvm.conf (default /etc/lvm), as lvm2 reads it. */
export function lvmLockingDir(): string {
  const conf = path.join(process.env.LVM_SYSTEM_DIR || '/etc/lvm', 'lvm.conf');
  try {
    const global = child(parseConfigText(fs.readFileSync(conf, 'utf8')), 'global');
    const dir = global?.kind === 'section' ? child(global, 'locking_dir') : undefined;
    if (dir?.kind === 'setting' && dir.value.kind === 'string' && dir.value.value) return dir.value.value;
  } catch {
    // No lvm.conf (lvm2 not installed) or one we cannot read: lvm2's built-in default then.
  }
  return DEFAULT_LOCKING_DIR;
}

function checkTimeout(v: unknown): number {
  if (v === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new RangeError(`lockTimeoutMs must be a finite number >= 0, got ${String(v)}`);
  return v;
}

/** Whether `file` still names the file open on `fd`: lvm2 unlinks its lock files on release. */
function stillNamed(fd: number, file: string): boolean {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(file);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** Runs `fn` holding LVM2's exclusive lock on the VG; throws LvmError LOCKED, having changed nothing, when it stays taken past the timeout. */
export async function withVgLock<T>(vg: string, o: VgLockOptions, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const deadline = started + checkTimeout(o.lockTimeoutMs);
  const dir = lvmLockingDir();
  const file = path.join(dir, `V_${vg}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    const err = native.flockTry(fd, true);
    if (err === 0 && stillNamed(fd, file)) {
      try {
        return await fn();
      } finally {
        fs.closeSync(fd);
      }
    }
    fs.closeSync(fd);
    if (err === 0) continue; // locked a file lvm2 had just unlinked: take the new one
    if (err !== os.constants.errno.EWOULDBLOCK && err !== os.constants.errno.EAGAIN) {
      throw new LvmError('LOCKED', vg, `flock ${file} failed (errno ${err}); nothing was changed`);
    }
    const left = deadline - Date.now();
    if (left <= 0 || o.signal?.aborted) {
      throw new LvmError('LOCKED', vg, `VG ${vg} is locked by another LVM command (${file}); ${o.signal?.aborted ? 'stopped waiting when interrupted' : 'gave up'} after ${Date.now() - started} ms; nothing was changed`);
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, left)));
  }
}
