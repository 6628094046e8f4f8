import os from 'node:os';
import util from 'node:util';

/** What an errno means for a given operation, in device-mapper's terms. */
const MEANING: Record<string, Record<string, string>> = {
  EBUSY: {
    DEV_REMOVE: 'the device is still open (mounted, held by another device, or briefly by udev/blkid)',
    REMOVE_ALL: 'a device is still open',
    DEV_CREATE: 'a device with that name or uuid already exists',
    DEV_RENAME: 'a device with the new name or uuid already exists',
    LOOP_CONFIGURE: 'the loop device is already in use',
    LOOP_CTL_REMOVE: 'the loop device is still in use',
    default: 'the device is busy',
  },
  ENXIO: { default: 'no such device' },
  ENODEV: { default: 'no such device' },
  EINVAL: {
    TABLE_LOAD: 'the kernel refused the table (see dmesg for the reason)',
    TARGET_MSG: 'the target refused the message',
    DEV_SUSPEND: 'the device cannot be resumed or suspended in its present state',
    default: 'invalid argument',
  },
  EEXIST: { default: 'a device with that name or uuid already exists' },
  ENOENT: { default: 'not found' },
  EACCES: { default: 'permission denied: device-mapper needs root (CAP_SYS_ADMIN)' },
  EPERM: { default: 'permission denied: device-mapper needs root (CAP_SYS_ADMIN)' },
  ENOBUFS: { default: 'the reply did not fit in the largest buffer allowed' },
  ECANCELED: { default: 'cancelled' },
  ENOTTY: { default: 'this kernel does not know that request' },
};

function meaning(code: string, command: string): string {
  const m = MEANING[code];
  if (!m) return util.getSystemErrorMap().get(-errnoOf(code))?.[1] ?? code;
  return m[command] ?? m.default;
}

function errnoOf(code: string): number {
  return (os.constants.errno as Record<string, number>)[code] ?? 0;
}

/** Every failure of a device-mapper or loop-device operation. */
export class DmError extends Error {
  /** Always `'DmError'`. */
  override name = 'DmError';
  /** e.g. 'EBUSY' */
  readonly code: string;
  /** positive errno */
  readonly errno: number;
  /** The system call that failed (`ioctl`, or `open` for the control device). */
  readonly syscall: string;
  /** the dm (or loop) command, e.g. 'DEV_REMOVE' */
  readonly command: string;
  /** the device the command addressed, as given */
  readonly device?: string;

  constructor(opts: { errno: number; command: string; device?: string; syscall?: string; detail?: string }) {
    const code = util.getSystemErrorName(-Math.abs(opts.errno));
    const on = opts.device ? ` on ${opts.device}` : '';
    const detail = opts.detail ? `; ${opts.detail}` : '';
    super(`${opts.command}${on} failed: ${code}: ${meaning(code, opts.command)}${detail}`);
    this.code = code;
    this.errno = Math.abs(opts.errno);
    this.syscall = opts.syscall ?? 'ioctl';
    this.command = opts.command;
    this.device = opts.device;
  }
}

/** Turns an error thrown by the addon (which carries .errno) into a DmError; passes others on. */
export function fromNative(err: unknown, command: string, device?: string, stack?: string): Error {
  const e = err as { errno?: unknown; syscall?: unknown };
  if (!err || typeof e.errno !== 'number') return err as Error;
  const out = new DmError({ errno: e.errno, command, device, syscall: typeof e.syscall === 'string' ? e.syscall : 'ioctl' });
  if (stack) out.stack = `${out.name}: ${out.message}\n${stack.split('\n').slice(1).join('\n')}`;
  return out;
}

/** Captures the caller's stack before an await, so async errors point at the user's line. */
export function callerStack(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callerStack);
  return holder.stack ?? '';
}
