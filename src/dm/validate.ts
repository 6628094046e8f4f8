// Argument checks for the raw dm layer. They run before any syscall, so bad input never
// reaches the kernel: TypeError for a wrong type, RangeError for a value out of range.
import type { RawTarget } from '../native';

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
/** DM_NAME_LEN - 1, DM_UUID_LEN - 1, DM_MAX_TYPE_NAME - 1 */
export const MAX_NAME_BYTES = 127;
export const MAX_UUID_BYTES = 128;
export const MAX_TYPE_BYTES = 15;

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string, got ${typeof v}`);
  if (v.includes('\0')) throw new RangeError(`${what} must not contain a NUL character`);
  return v;
}

/** A device name the kernel accepts: 1..127 bytes, no '/', and not '.', '..' or 'control'. */
export function checkName(v: unknown, what = 'device name'): string {
  const s = str(v, what);
  const n = bytes(s);
  if (n < 1 || n > MAX_NAME_BYTES) throw new RangeError(`${what} must be 1..${MAX_NAME_BYTES} bytes, got ${n}`);
  if (s.includes('/')) throw new RangeError(`${what} must not contain '/': ${JSON.stringify(s)}`);
  // '.' and '..' would be directory entries under /dev/mapper; 'control' is the control node.
  if (s === '.' || s === '..' || s === 'control') throw new RangeError(`${what} must not be ${JSON.stringify(s)}`);
  return s;
}

export function checkUuid(v: unknown, what = 'device uuid'): string {
  const s = str(v, what);
  const n = bytes(s);
  if (n < 1 || n > MAX_UUID_BYTES) throw new RangeError(`${what} must be 1..${MAX_UUID_BYTES} bytes, got ${n}`);
  return s;
}

export function checkInt(v: unknown, what: string, max: number, min = 0): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

export const checkU32 = (v: unknown, what: string): number => checkInt(v, what, U32_MAX);
/** The dev_t encoding the kernel uses for dm carries 12 bits of major and 20 of minor. */
export const checkMajor = (v: unknown): number => checkInt(v, 'major', 0xfff);
export const checkMinor = (v: unknown): number => checkInt(v, 'minor', 0xfffff);

/** A sector number (or count): a non-negative integer below 2^64, as bigint. */
export function checkSector(v: unknown, what: string): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${what} must be a safe integer, got ${v}`);
    v = BigInt(v);
  }
  if (typeof v !== 'bigint') throw new TypeError(`${what} must be a bigint or a number, got ${typeof v}`);
  if (v < 0n || v > U64_MAX) throw new RangeError(`${what} must be in 0..2^64-1, got ${v}`);
  return v;
}

/** A target as callers give it: sectors as bigint or (safe) number. */
export interface TargetInput {
  start: bigint | number;
  length: bigint | number;
  type: string;
  params: string;
}

/** A table the kernel can take: at least one target, contiguous from sector 0, no empty target. */
export function checkTargets(v: unknown): RawTarget[] {
  if (!Array.isArray(v)) throw new TypeError('targets must be an array');
  if (v.length === 0) throw new RangeError('a table needs at least one target');
  let next = 0n;
  return v.map((t: Partial<TargetInput> | null, i) => {
    if (typeof t !== 'object' || t === null) throw new TypeError(`target ${i} must be an object`);
    const type = str(t.type, `target ${i} type`);
    const n = bytes(type);
    if (n < 1 || n > MAX_TYPE_BYTES || /\s/.test(type))
      throw new RangeError(`target ${i} type must be 1..${MAX_TYPE_BYTES} bytes without spaces: ${JSON.stringify(type)}`);
    const start = checkSector(t.start, `target ${i} start`);
    const length = checkSector(t.length, `target ${i} length`);
    if (length === 0n) throw new RangeError(`target ${i} has length 0`);
    if (start !== next) throw new RangeError(`target ${i} starts at ${start}, expected ${next}: a table has no gaps or overlaps`);
    if (start + length > U64_MAX) throw new RangeError(`target ${i} ends past sector 2^64-1`);
    next = start + length;
    return { start, length, type, params: str(t.params, `target ${i} params`) };
  });
}

export function checkMessage(v: unknown): string {
  const s = str(v, 'message');
  if (s.trim() === '') throw new RangeError('message must not be empty');
  return s;
}

/** Buffer sizes for replies that can be long. */
export interface BufferOptions {
  /** First data-area size in bytes (default 16 KiB); doubled while the kernel says it is too small. */
  initialBufferSize?: number;
  /** Largest data area tried (default 256 MiB); past it the call fails with ENOBUFS. */
  maxBufferSize?: number;
}

export function checkBufferOptions(o: BufferOptions = {}): BufferOptions {
  const out: BufferOptions = {};
  if (o.initialBufferSize !== undefined) out.initialBufferSize = checkInt(o.initialBufferSize, 'initialBufferSize', U32_MAX - 4096, 1);
  if (o.maxBufferSize !== undefined) out.maxBufferSize = checkInt(o.maxBufferSize, 'maxBufferSize', U32_MAX - 4096, 1);
  return out;
}
