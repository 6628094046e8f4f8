// LVM2's own lock on a volume group: an flock on <locking_dir>/V_<vg>, locking_dir from lvm.conf's
// global section (lvm2's default: /run/lock/lvm). Holding it exclusively while devices are made or
// removed keeps dmctl from racing vgchange, lvcreate or another dmctl on the same VG, as two lvm2
// commands keep from racing each other.
import fs from 'node:fs';
import path from 'node:path';
import { retryLock, tryFlock } from '../flock';
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
  let fd = -1;
  const taken = await retryLock(() => {
    for (;;) {
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
      let got: boolean;
      try {
        got = tryFlock(fd, file);
      } catch (e) {
        fs.closeSync(fd);
        throw new LvmError('LOCKED', vg, `${(e as Error).message}; nothing was changed`);
      }
      if (got && stillNamed(fd, file)) return true;
      fs.closeSync(fd);
      if (!got) return false;
      // Locked a file lvm2 had just unlinked: take the new one.
    }
  }, deadline, o.signal);
  if (!taken) {
    throw new LvmError('LOCKED', vg, `VG ${vg} is locked by another LVM command (${file}); ${o.signal?.aborted ? 'stopped waiting when interrupted' : 'gave up'} after ${Date.now() - started} ms; nothing was changed`);
  }
  try {
    return await fn();
  } finally {
    fs.closeSync(fd);
  }
}
