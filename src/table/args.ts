// The one tokenizer and reader every target's parser uses, so number, device and
// feature-count handling is written once.
import { TableError } from './errors';

export function tokenize(params: string): string[] {
  const t = params.trim();
  return t === '' ? [] : t.split(/\s+/);
}

const U64_MAX = (1n << 64n) - 1n;

export function parseU64(text: string, what: string): bigint {
  if (!/^\d+$/.test(text)) throw new TableError(`${what}: expected an unsigned integer, got ${JSON.stringify(text)}`, 'syntax');
  const v = BigInt(text);
  if (v > U64_MAX) throw new TableError(`${what}: ${text} does not fit in 64 bits`, 'syntax');
  return v;
}

export function parseU32(text: string, what: string): number {
  const v = parseU64(text, what);
  if (v > 0xffffffffn) throw new TableError(`${what}: ${text} does not fit in 32 bits`, 'syntax');
  return Number(v);
}

/** Reads a target's parameters (or status words) left to right; every failure is a TableError naming the field. */
export class ArgReader {
  private pos = 0;
  constructor(private readonly tokens: string[]) {}

  get remaining(): number {
    return this.tokens.length - this.pos;
  }

  /** The message names the field, never the token, so a crypt key read here cannot leak. */
  next(field: string): string {
    const tok = this.tokens[this.pos];
    if (tok === undefined) throw new TableError(`missing ${field}`, 'syntax');
    this.pos++;
    return tok;
  }

  u64(field: string): bigint {
    return parseU64(this.next(field), field);
  }

  u32(field: string): number {
    return parseU32(this.next(field), field);
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], normalize: (s: string) => string = (s) => s): T {
    const tok = normalize(this.next(field));
    if (!(allowed as readonly string[]).includes(tok)) {
      throw new TableError(`${field}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(tok)}`, 'syntax');
    }
    return tok as T;
  }

  /** `<#args> <arg>...`: the kernel's feature/optional-argument convention. Absent → []. */
  counted(field: string): string[] {
    return this.remaining === 0 ? [] : this.list(field);
  }

  /** "<used>/<total>", as thin-pool, cache and snapshot statuses print fill levels. */
  ratio(field: string): [bigint, bigint] {
    const tok = this.next(field);
    const m = /^(\d+)\/(\d+)$/.exec(tok);
    if (!m) throw new TableError(`${field}: expected <used>/<total>, got ${JSON.stringify(tok)}`, 'syntax');
    return [BigInt(m[1]), BigInt(m[2])];
  }

  /** A u64, or undefined for the kernel's "-" (nothing to report). */
  u64OrDash(field: string): bigint | undefined {
    const tok = this.next(field);
    return tok === '-' ? undefined : parseU64(tok, field);
  }

  /** `<n> <word>...` where the count is required (status lines always print it). */
  list(field: string): string[] {
    const n = this.u32(`${field} count`);
    if (n > this.remaining) throw new TableError(`${field}: count ${n} but only ${this.remaining} word(s) follow`, 'syntax');
    const out = this.tokens.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): string[] {
    const out = this.tokens.slice(this.pos);
    this.pos = this.tokens.length;
    return out;
  }

  end(): void {
    if (this.remaining > 0) throw new TableError(`${this.remaining} unexpected trailing argument(s), starting ${JSON.stringify(this.tokens[this.pos])}`, 'syntax');
  }
}

/** `<#args> <args...>` with the count left out when there are none (the kernel's usual spelling). */
export function countedOrNothing(args: readonly string[]): string {
  return args.length ? ` ${args.length} ${args.join(' ')}` : '';
}

/** Named boolean flags in the fixed order the kernel prints them; returns the flags in that order. */
export function flagsInOrder<K extends string>(order: readonly (readonly [K, string])[], set: Partial<Record<K, boolean>>): string[] {
  return order.filter(([k]) => set[k]).map(([, word]) => word);
}

/** A named option with a fixed number of following words (verity `fec_roots 2`, flakey `random_read_corrupt N`). */
export interface OptArg {
  name: string;
  values: string[];
}

/**
 * Splits an option list into named options. `arity` gives how many words follow each name; names it
 * does not list take none. Order is kept: the kernel echoes options in an order of its own, and keeping
 * the parsed order is what makes format(parse(x)) == x.
 */
export function parseOptArgs(words: readonly string[], arity: Record<string, number>): OptArg[] {
  const out: OptArg[] = [];
  for (let i = 0; i < words.length; ) {
    const name = words[i++];
    const n = arity[name] ?? 0;
    if (i + n > words.length) throw new TableError(`option ${name} needs ${n} value(s)`, 'syntax');
    out.push({ name, values: words.slice(i, i + n) });
    i += n;
  }
  return out;
}

export function optArgWords(opts: readonly OptArg[]): string[] {
  return opts.flatMap((o) => [o.name, ...o.values]);
}

export function isPowerOfTwo(n: bigint | number): boolean {
  const b = BigInt(n);
  return b > 0n && (b & (b - 1n)) === 0n;
}

/** An ArgReader over a status line. */
export function statusReader(status: string): ArgReader {
  return new ArgReader(tokenize(status));
}
