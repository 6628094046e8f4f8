import { LvmError } from './errors';
import { Lexer, type Token, type TokenKind } from './config-tokens';

/** Where a key or value starts in the text, 1-based. */
export interface Position {
  line: number;
  column: number;
}

/** A scalar value of LVM2's config text: string, integer or float, with its position. */
export type ConfigScalar =
  | { kind: 'string'; value: string; at: Position }
  /** libdm keeps every integer as int64; bigint holds all of them. */
  | { kind: 'int'; value: bigint; at: Position }
  | { kind: 'float'; value: number; at: Position };

/** A `[ ... ]` list of scalars in LVM2's config text. */
export interface ConfigList {
  kind: 'list';
  items: ConfigScalar[];
  at: Position;
}

/** The value of a setting: a scalar or a list. */
export type ConfigValue = ConfigScalar | ConfigList;

/** A `key = value` setting in LVM2's config text. */
export interface ConfigSetting {
  kind: 'setting';
  key: string;
  value: ConfigValue;
  at: Position;
}

/** A `key { ... }` section in LVM2's config text. */
export interface ConfigSection {
  kind: 'section';
  key: string;
  /** In text order; a key may repeat (LVM2 reads metadata without merging duplicates), lookups take the first. */
  children: ConfigNode[];
  at: Position;
}

/** A node of LVM2's config text: a section or a setting. */
export type ConfigNode = ConfigSection | ConfigSetting;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
/** libdm's repair for a creation_time that old 32-bit builds wrote out of range (2018-05-24). */
const REPAIRED_CREATION_TIME = 1527120000n;

/** Parses text in LVM2's config grammar (metadata, backups, lvm.conf) into a tree. */
export function parseConfigText(text: string): ConfigSection {
  return new Parser(text).file();
}

/** Undoes dm_escape_double_quotes: only `\"` and `\\` are escapes; any other backslash stays. */
export function unescapeDoubleQuoted(inner: string): string {
  return inner.replace(/\\(["\\])/g, '$1');
}

class Parser {
  private readonly lexer: Lexer;
  private tok: Token;
  private lastKey = '';

  constructor(text: string) {
    this.lexer = new Lexer(text);
    this.tok = this.lexer.next('}');
  }

  file(): ConfigSection {
    const root: ConfigSection = { kind: 'section', key: '', children: [], at: { line: 1, column: 1 } };
    while (this.tok.kind !== 'eof') root.children.push(this.node());
    return root;
  }

  private node(): ConfigNode {
    const t = this.tok;
    const at = { line: t.line, column: t.column };
    let key: string;
    if (t.kind === 'string-escaped') key = unescapeDoubleQuoted(t.text.slice(1, -1));
    else if (t.kind === 'string') key = t.text.slice(1, -1);
    else if (t.kind === 'identifier') key = t.text;
    else throw this.error(t.kind === 'eof' ? 'unexpected end of text, a } is missing' : `expected a key, found ${describe(t)}`);
    if (key === '') throw this.error('empty key');
    this.advance();
    if (this.tok.kind === '{') {
      this.advance();
      const children: ConfigNode[] = [];
      while (this.kind() !== '}') children.push(this.node());
      this.advance();
      return { kind: 'section', key, children, at };
    }
    if (this.kind() !== '=') throw this.error(`expected = or { after ${JSON.stringify(key)}, found ${describe(this.tok)}`);
    this.advance();
    this.lastKey = key;
    return { kind: 'setting', key, value: this.value(), at };
  }

  private value(): ConfigValue {
    if (this.tok.kind !== '[') return this.scalar();
    const at = this.here();
    this.advance();
    const items: ConfigScalar[] = [];
    while (this.kind() !== ']') {
      items.push(this.scalar());
      if (this.kind() === ',') this.advance(); // commas between items are optional in libdm
    }
    this.advance();
    return { kind: 'list', items, at };
  }

  private scalar(): ConfigScalar {
    const t = this.tok;
    const at = this.here();
    let out: ConfigScalar;
    switch (t.kind) {
      case 'int': out = { kind: 'int', value: this.integer(t), at }; break;
      case 'float': {
        const v = Number.parseFloat(t.text);
        out = { kind: 'float', value: Number.isNaN(v) ? 0 : v, at }; // strtod reads "." and "-." as 0
        break;
      }
      case 'string': out = { kind: 'string', value: t.text.slice(1, -1), at }; break;
      case 'string-escaped': out = { kind: 'string', value: unescapeDoubleQuoted(t.text.slice(1, -1)), at }; break;
      case 'string-bare': out = { kind: 'string', value: t.text, at }; break;
      default: throw this.error(`expected a value, found ${describe(t)}`);
    }
    this.advance();
    return out;
  }

  /** strtoll with base 0 over the whole token: a leading 0 means octal. */
  private integer(t: Token): bigint {
    const m = /^([+-]?)(\d+)$/.exec(t.text);
    const octal = m !== null && m[2]!.length > 1 && m[2]!.startsWith('0');
    if (!m || (octal && /[89]/.test(m[2]!))) throw this.error(`not an integer: ${t.text}`);
    const magnitude = octal ? BigInt(`0o${m[2]!.slice(1)}`) : BigInt(m[2]!);
    const v = m[1] === '-' ? -magnitude : magnitude;
    if (v < INT64_MIN || v > INT64_MAX) {
      if (this.lastKey === 'creation_time') return REPAIRED_CREATION_TIME;
      throw this.error(`integer out of the int64 range: ${t.text}`);
    }
    return v;
  }

  private advance(): void {
    this.tok = this.lexer.next(this.tok.kind);
  }

  /** Read through a call, so the compiler does not keep a narrowing across advance(). */
  private kind(): TokenKind {
    return this.tok.kind;
  }

  private here(): Position {
    return { line: this.tok.line, column: this.tok.column };
  }

  private error(message: string): LvmError {
    const { line, column } = this.tok;
    return new LvmError('PARSE', `${line}:${column}`, `line ${line}, column ${column}: ${message}`);
  }
}

function describe(t: Token): string {
  const names: Partial<Record<TokenKind, string>> = { eof: 'the end of the text' };
  return names[t.kind] ?? JSON.stringify(t.text.length > 20 ? `${t.text.slice(0, 20)}…` : t.text);
}

/** The first child called `key`, as libdm's lookups find it. */
export function child(section: ConfigSection, key: string): ConfigNode | undefined {
  return section.children.find((n) => n.key === key);
}
