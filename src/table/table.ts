// Table text and RawTarget[] in and out. A table read back from the kernel formats to exactly the
// kernel's bytes: typed parsers keep its spelling, and generic targets keep params untouched.
import type { RawTarget } from '../native';
import { ArgReader, parseU64, tokenize } from './args';
import { devRefKey, devRefToString, type DevRef } from './devref';
import { TableError } from './errors';
import type { RawStatus, StatusMap, Table, Target, TypedTarget } from './model';
import { descriptorFor } from './registry';
import type { DevFormatter, GenericTarget, TargetDescriptor } from './types';

/** Options of parseTable(), parseTarget() and fromRawTargets(). */
export interface ParseOptions {
  /**
   * Keep these types (or all, with `true`) in the generic `{ type, params }` form. Default: typed
   * form for every type the registry knows.
   */
  generic?: boolean | readonly string[];
  /**
   * When a known type's parameters do not parse (say a feature newer than this library), keep the
   * target generic instead of throwing. Never for types that can hold a key (those whose descriptor
   * has `secure`: crypt, integrity): their params would then be an unredacted string.
   */
  fallback?: boolean;
}

/** Options of formatTable(), formatTarget() and toRawTargets(). */
export interface FormatOptions {
  /** Spells a device reference; default: "M:m" as is, {major, minor}, or a path stat'ed for its rdev. */
  dev?: DevFormatter;
}

/** Whether the target is in the generic `{ type, params }` form. */
export function isGeneric(t: Target): t is GenericTarget {
  return typeof (t as GenericTarget).params === 'string';
}

/** Whether the target is the typed form of `type`. */
export function isTargetType<K extends TypedTarget['type']>(t: Target, type: K): t is Extract<TypedTarget, { type: K }> {
  return t.type === type && !isGeneric(t);
}

function wantsGeneric(type: string, opts: ParseOptions): boolean {
  return opts.generic === true || (Array.isArray(opts.generic) && opts.generic.includes(type));
}

/**
 * Trailing whitespace the kernel printed that the descriptor's format does not write: some kernels
 * end a line with a space where others do not (Debian's 6.1 flakey prints a space after every word).
 * Held in a non-enumerable property, so it is not a typed field (nor compared, nor in JSON), and
 * formatTarget writes it back: the round trip stays byte-exact on every kernel.
 */
const TRAILING = Symbol('trailing whitespace');

function keepTrailingSpace(t: Target, d: TargetDescriptor, params: string): Target {
  const body = params.trimEnd();
  if (body === params) return t;
  let formatted: string;
  try {
    formatted = d.format(t, devRefKey);
  } catch {
    return t;
  }
  // Only where format writes the same words and no trailing whitespace of its own (thin-pool's is its own).
  if (formatted === body) Object.defineProperty(t, TRAILING, { value: params.slice(body.length), enumerable: false });
  return t;
}

/** One target from its parts. Errors carry no line (callers add it) and never quote a key. */
export function parseTarget(start: bigint, length: bigint, type: string, params: string, opts: ParseOptions = {}): Target {
  const d = descriptorFor(type);
  if (!d || wantsGeneric(type, opts)) return { start, length, type, params };
  try {
    return keepTrailingSpace({ start, length, type, ...d.parse(new ArgReader(tokenize(params))) } as Target, d, params);
  } catch (e) {
    if (!(e instanceof TableError)) throw e;
    // Parsers quote the token they choke on; in a target that holds a key that token may be the key.
    if (d.secure) throw new TableError(e.detail.replace(/"(?:[^"\\]|\\.)*"/g, '<redacted>'), e.rule);
    if (opts.fallback) return { start, length, type, params };
    throw e;
  }
}

/** The target's params string, in the kernel's spelling. */
export function formatTarget(t: Target, opts: FormatOptions = {}): string {
  if (isGeneric(t)) return t.params;
  const d = descriptorFor(t.type);
  if (!d) throw new TableError(`no typed form for target type ${JSON.stringify(t.type)}; give params as a string`, 'unknown-target', 0, t.type);
  const dev = opts.dev ?? ((r: DevRef) => devRefToString(r));
  return d.format(t, dev) + ((t as { [TRAILING]?: string })[TRAILING] ?? '');
}

const TYPE_RE = /^[A-Za-z0-9_.+-]+$/;

/**
 * Parses dmsetup table syntax: one `<start> <length> <type> <params...>` per line. Blank lines and
 * lines starting with '#' are skipped; error line numbers count every line, from 1.
 */
export function parseTable(text: string, opts: ParseOptions = {}): Target[] {
  if (typeof text !== 'string') throw new TypeError('table text must be a string');
  const out: Target[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const m = /^\s*(\S+)\s+(\S+)\s+(\S+)(?:\s+([^]*))?$/.exec(line);
    try {
      if (!m) throw new TableError('expected <start> <length> <type> [<params>]', 'syntax');
      const [, s, l, type, rest = ''] = m;
      if (!TYPE_RE.test(type)) throw new TableError(`not a target type name: ${JSON.stringify(type)}`, 'syntax');
      // The kernel's params never start with a space but may end with one (thin-pool); keep the end.
      const params = rest.trim() === '' ? '' : rest;
      out.push(parseTarget(parseU64(s, 'start'), parseU64(l, 'length'), type, params, opts));
    } catch (e) {
      if (e instanceof TableError) throw e.at(i + 1, m?.[3]);
      throw e;
    }
  });
  return out;
}

/** dmsetup's layout: "<start> <length> <type> <params>\n" per target (the space stays when params are empty). */
export function formatTable(table: Table, opts: FormatOptions = {}): string {
  return table.map((t, i) => `${t.start} ${t.length} ${t.type} ${withLine(i, t, () => formatTarget(t, opts))}\n`).join('');
}

function withLine<R>(i: number, t: Target, f: () => R): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof TableError) throw e.at(i + 1, t.type);
    throw e;
  }
}

/** What the ioctl layer takes. The params of a crypt target hold its key: see needsSecureData. */
export function toRawTargets(table: Table, opts: FormatOptions = {}): RawTarget[] {
  return table.map((t, i) => ({ start: t.start, length: t.length, type: t.type, params: withLine(i, t, () => formatTarget(t, opts)) }));
}

/** From what TABLE_STATUS (table flag) returns. */
export function fromRawTargets(raw: readonly RawTarget[], opts: ParseOptions = {}): Target[] {
  return raw.map((r, i) => {
    try {
      return parseTarget(r.start, r.length, r.type, r.params, opts);
    } catch (e) {
      if (e instanceof TableError) throw e.at(i + 1, r.type);
      throw e;
    }
  });
}

/** True when the table holds a key, so the loader must set DM_SECURE_DATA_FLAG (and wipe its buffers). */
export function needsSecureData(table: Table): boolean {
  return table.some((t) => {
    const d = descriptorFor(t.type);
    if (!d?.secure) return false;
    if (!isGeneric(t)) return d.secure(t);
    try {
      return d.secure(parseTarget(t.start, t.length, t.type, t.params));
    } catch {
      return true; // cannot tell: treat it as holding a key
    }
  });
}

/** Parses one status line (STATUSTYPE_INFO) of a target type; untyped types give { raw }. */
export function parseStatus<K extends keyof StatusMap>(type: K, status: string): StatusMap[K];
export function parseStatus(type: string, status: string): unknown;
export function parseStatus(type: string, status: string): unknown {
  const d = descriptorFor(type);
  if (!d?.parseStatus) return { raw: status } satisfies RawStatus;
  try {
    return d.parseStatus(status);
  } catch (e) {
    if (e instanceof TableError) throw new TableError(e.detail, e.rule, 0, type);
    throw e;
  }
}

/**
 * One target's status: its position, type, and the status parsed for typed types (the raw line otherwise).
 */
export interface TargetStatus {
  start: bigint;
  length: bigint;
  type: string;
  status: unknown;
}

/** Every target's status from a TABLE_STATUS reply. */
export function parseStatusTargets(raw: readonly RawTarget[]): TargetStatus[] {
  return raw.map((r, i) => {
    try {
      return { start: r.start, length: r.length, type: r.type, status: parseStatus(r.type, r.params) };
    } catch (e) {
      if (e instanceof TableError) throw e.at(i + 1, r.type);
      throw e;
    }
  });
}
