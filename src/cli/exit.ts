// Exit codes, and the one line a failure prints. docs/cli.md lists the same table.
import { DmError } from '../errors';
import { DmCmd } from '../native';
import { TableError } from '../table';

export const Exit = {
  OK: 0,
  /** Anything not listed below. */
  FAILURE: 1,
  /** Bad command line: unknown verb or option, missing or extra argument, bad number or size. */
  USAGE: 2,
  /** The table text does not parse or breaks a rule (gap, overlap, bad parameters): nothing was sent. */
  TABLE: 3,
  /** No such device (dm device, loop device, or file). */
  NO_DEVICE: 4,
  /** The device is busy (open, mounted, held by another device, or locked by another operation). */
  BUSY: 5,
  /** The kernel refused the request (EINVAL and other errors from an ioctl). */
  REFUSED: 6,
  /** A device with that name or uuid already exists. */
  EXISTS: 7,
  /** Not allowed: device-mapper needs root (CAP_SYS_ADMIN). */
  PERMISSION: 8,
  /** This kernel has no device-mapper (/dev/mapper/control cannot be opened). */
  NO_DM: 9,
  /** A live operation stopped half-way or found the device in a state it cannot work on. */
  OPERATION: 10,
  /** Interrupted (Ctrl-C): what was waited for may go on in the kernel. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** A failure the CLI itself detects, with its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: ExitCode = Exit.USAGE) {
    super(message);
  }
}

export const usage = (message: string): CliError => new CliError(message, Exit.USAGE);

const CREATE_LIKE = new Set(['DEV_CREATE', 'DEV_RENAME']);

const STORE_EXIT: Record<string, ExitCode> = { EBUSY: Exit.BUSY, ENOENT: Exit.NO_DEVICE, EINVAL: Exit.USAGE };

const LVM_EXIT: Record<string, ExitCode> = { NO_DEVICE: Exit.NO_DEVICE, NO_VG: Exit.NO_DEVICE, EXISTS: Exit.EXISTS, BUSY: Exit.BUSY, LOCKED: Exit.BUSY };

/** The exit code for any error a verb throws. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  // A store refused before anything changed (also inside the OperationError of its operation).
  // (By name: the operations are loaded only by the verbs that use them.)
  const store = [err, (err as { cause?: unknown })?.cause].find((e) => (e as { name?: unknown })?.name === 'StoreError') as { code: string } | undefined;
  if (store) return STORE_EXIT[store.code] ?? Exit.FAILURE;
  if (err instanceof TableError) return Exit.TABLE;
  // src/parts: a partition table that cannot be read is a table that does not parse.
  if ((err as { name?: unknown })?.name === 'PartitionTableError') return Exit.TABLE;
  // src/lvm: metadata that cannot be read or mapped is a table that does not parse.
  if ((err as { name?: unknown })?.name === 'LvmError') return LVM_EXIT[(err as { code: string }).code] ?? Exit.TABLE;
  if ((err as { name?: unknown })?.name === 'PartsError') return (err as { code: string }).code === 'EEXIST' ? Exit.EXISTS : Exit.BUSY;
  // src/ops' OperationError (matched by name: it rolled back, or says what it left).
  if ((err as { name?: unknown })?.name === 'OperationError') return Exit.OPERATION;
  // src/ops' DeviceLockedError: another operation holds the device's lock (nothing was changed).
  if ((err as { name?: unknown })?.name === 'DeviceLockedError') return (err as { interrupted?: boolean }).interrupted ? Exit.INTERRUPTED : Exit.BUSY;
  if (err instanceof DmError || (err as { code?: unknown })?.code !== undefined && typeof (err as { errno?: unknown }).errno === 'number') {
    const e = err as DmError;
    if (e.code === 'ECANCELED') return Exit.INTERRUPTED;
    // Opening /dev/mapper/control is the first thing every dm command does.
    if (e.syscall === 'open' && (e.code === 'ENODEV' || e.code === 'ENOENT') && e.command in DmCmd) return Exit.NO_DM;
    if (e.code === 'ENXIO' || e.code === 'ENODEV' || e.code === 'ENOENT') return Exit.NO_DEVICE;
    if (e.code === 'EEXIST' || (e.code === 'EBUSY' && CREATE_LIKE.has(e.command))) return Exit.EXISTS;
    if (e.code === 'EBUSY') return Exit.BUSY;
    if (e.code === 'EACCES' || e.code === 'EPERM') return Exit.PERMISSION;
    return Exit.REFUSED;
  }
  // Argument checks of the library layers (bad name, bad size) are the caller's input.
  if (err instanceof RangeError || err instanceof TypeError) return Exit.USAGE;
  return Exit.FAILURE;
}

/** The line printed on stderr (no stack unless --debug). */
export function errorLine(err: unknown): string {
  const code = exitCodeOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code === Exit.NO_DM) return `${msg} (this kernel has no device-mapper, or it is not loaded: try 'modprobe dm-mod')`;
  if (code === Exit.PERMISSION && !/root/.test(msg)) return `${msg} (device-mapper needs root)`;
  return msg.split('\n')[0];
}
