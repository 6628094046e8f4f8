// Sizes in one place: device-mapper speaks 512-byte sectors, people speak K/M/G.
/** Bytes in a sector: 512. */
export const SECTOR_SIZE = 512n;

const UNIT: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  s: SECTOR_SIZE,
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
  p: 1n << 50n,
  e: 1n << 60n,
};

/** Options of parseSize() and parseSectors(). */
export interface ParseSizeOptions {
  /** Size in bytes that a percentage is taken of (`10%`). */
  of?: bigint;
}

const SIZE_RE = /^(\d+)(?:\.(\d+))?\s*(%|[bBsSkKmMgGtTpPeE]?)(?:i?[bB])?$/;

/**
 * Parses `512` (bytes), `512B`, `8s` (sectors), `512K`, `1.5G`, `1GiB`, `10%` (of `opts.of`) into bytes.
 * Units are binary (K = 1024), as in dmsetup and LVM. A fraction must come out as whole bytes, except
 * for percentages, which round down to a whole sector because they size devices.
 */
export function parseSize(text: string | number | bigint, opts: ParseSizeOptions = {}): bigint {
  if (typeof text === 'bigint') {
    if (text < 0n) throw new RangeError(`size must not be negative: ${text}`);
    return text;
  }
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new RangeError(`size must be a non-negative safe integer: ${text}`);
    return BigInt(text);
  }
  if (typeof text !== 'string') throw new TypeError(`size must be a string, number or bigint, not ${typeof text}`);
  const m = SIZE_RE.exec(text.trim());
  if (!m) throw new RangeError(`not a size: ${JSON.stringify(text)} (expected e.g. 512, 8s, 512K, 1.5G, 10%)`);
  const [, whole, frac = '', unitText] = m;
  const scale = 10n ** BigInt(frac.length);
  const scaled = BigInt(whole) * scale + (frac ? BigInt(frac) : 0n); // the number times `scale`
  if (unitText === '%') {
    if (opts.of === undefined) throw new TypeError(`a percentage (${text}) needs the size it is a percentage of ({ of })`);
    if (opts.of < 0n) throw new RangeError('the size a percentage is taken of must not be negative');
    if (scaled > 100n * scale) throw new RangeError(`percentage over 100: ${text}`);
    const bytes = (opts.of * scaled) / (100n * scale);
    return (bytes / SECTOR_SIZE) * SECTOR_SIZE;
  }
  const unit = UNIT[unitText.toLowerCase()];
  const product = scaled * unit;
  if (product % scale !== 0n) throw new RangeError(`${text} is not a whole number of bytes`);
  return product / scale;
}

/** How bytesToSectors() treats a size that is not a whole number of sectors. */
export type SectorRounding = 'exact' | 'down' | 'up';

/** Bytes to sectors; `exact` (the default) refuses a size that is not a multiple of 512. */
export function bytesToSectors(bytes: bigint, round: SectorRounding = 'exact'): bigint {
  if (typeof bytes !== 'bigint') throw new TypeError('bytes must be a bigint');
  if (bytes < 0n) throw new RangeError(`bytes must not be negative: ${bytes}`);
  const rem = bytes % SECTOR_SIZE;
  if (rem === 0n) return bytes / SECTOR_SIZE;
  if (round === 'down') return bytes / SECTOR_SIZE;
  if (round === 'up') return bytes / SECTOR_SIZE + 1n;
  throw new RangeError(`${bytes} bytes is not a whole number of 512-byte sectors`);
}

/** Sectors to bytes. */
export function sectorsToBytes(sectors: bigint): bigint {
  if (typeof sectors !== 'bigint') throw new TypeError('sectors must be a bigint');
  if (sectors < 0n) throw new RangeError(`sectors must not be negative: ${sectors}`);
  return sectors * SECTOR_SIZE;
}

/** Parses a size straight to sectors (exact unless a percentage, which is already sector-aligned). */
export function parseSectors(text: string | number | bigint, opts: ParseSizeOptions = {}): bigint {
  if (typeof text === 'string' && /^\d+\s*s$/i.test(text.trim())) return BigInt(text.trim().slice(0, -1).trim());
  return bytesToSectors(parseSize(text, opts));
}

const SUFFIXES = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];

/**
 * Human size with binary units: `512B`, `1K`, `1.5G`. Exact values print without a decimal point;
 * others with one or two decimals, rounded, so only text without a point parses back exactly.
 */
export function formatSize(bytes: bigint): string {
  if (typeof bytes !== 'bigint') throw new TypeError('bytes must be a bigint');
  if (bytes < 0n) throw new RangeError(`bytes must not be negative: ${bytes}`);
  let i = 0;
  while (i < SUFFIXES.length - 1 && bytes >= 1n << BigInt(10 * (i + 1))) i++;
  const unit = 1n << BigInt(10 * i);
  if (bytes % unit === 0n) return `${bytes / unit}${SUFFIXES[i]}`;
  const hundredths = (bytes * 100n + unit / 2n) / unit;
  const whole = hundredths / 100n;
  // An inexact size always shows a decimal point ("512.0K"), so text without one is exact.
  const frac = (hundredths % 100n).toString().padStart(2, '0').replace(/0+$/, '') || '0';
  return `${whole}.${frac}${SUFFIXES[i]}`;
}
