// Every argument is checked here, before any syscall; native code keeps only backstop checks.
import type { LoopConfig } from '../native';
import type { AttachOptions } from './types';
import path from 'node:path';

const BLOCK_SIZES = [512, 1024, 2048, 4096];
const MAX_BYTES = 2n ** 63n - 1n;
const ATTACH_KEYS = new Set(['size', 'readOnly', 'autoclear', 'partscan', 'directIo', 'blockSize', 'offset', 'sizeLimit']);

export function checkPath(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  if (value === '') throw new RangeError(`${what} must not be empty`);
  if (value.includes('\0')) throw new RangeError(`${what} must not contain NUL bytes`);
  return value;
}

/** A byte count the kernel takes in 512-byte sectors. */
export function checkBytes(value: unknown, what: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer, got ${value}`);
    value = BigInt(value);
  }
  if (typeof value !== 'bigint') throw new TypeError(`${what} must be a bigint or a number`);
  if (value < 0n || value > MAX_BYTES) throw new RangeError(`${what} must be between 0 and 2^63-1, got ${value}`);
  if (value % 512n !== 0n) throw new RangeError(`${what} must be a multiple of 512, got ${value}`);
  return value;
}

export function checkBlockSize(value: unknown): number {
  if (typeof value !== 'number') throw new TypeError('blockSize must be a number');
  if (!BLOCK_SIZES.includes(value)) throw new RangeError(`blockSize must be one of ${BLOCK_SIZES.join(', ')}, got ${value}`);
  return value;
}

export function checkNumber(value: unknown, what = 'loop device number'): number {
  if (typeof value !== 'number') throw new TypeError(`${what} must be a number`);
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  return value;
}

/** A loop device given as its number or as a path to its node. */
export function devicePathOf(device: unknown): string {
  if (typeof device === 'number') return `/dev/loop${checkNumber(device)}`;
  if (typeof device === 'string') return checkPath(device, 'device');
  throw new TypeError('device must be a path or a loop device number');
}

function checkBool(value: unknown, what: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean`);
  return value === true;
}

export interface AttachPlan {
  file: string;
  size?: bigint;
  config: LoopConfig;
}

export function planAttach(file: unknown, opts: unknown = {}): AttachPlan {
  const abs = path.resolve(checkPath(file, 'file'));
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  const o = opts as AttachOptions;
  for (const key of Object.keys(o)) if (!ATTACH_KEYS.has(key)) throw new TypeError(`unknown attach option: ${key}`);
  const config: LoopConfig = {
    readOnly: checkBool(o.readOnly, 'readOnly'),
    autoclear: checkBool(o.autoclear, 'autoclear'),
    partscan: checkBool(o.partscan, 'partscan'),
    directIo: checkBool(o.directIo, 'directIo'),
  };
  if (o.offset !== undefined) config.offset = checkBytes(o.offset, 'offset');
  if (o.sizeLimit !== undefined) config.sizeLimit = checkBytes(o.sizeLimit, 'sizeLimit');
  if (o.blockSize !== undefined) config.blockSize = checkBlockSize(o.blockSize);
  const size = o.size === undefined ? undefined : checkBytes(o.size, 'size');
  return { file: abs, size, config };
}
