import { LvmError } from './errors';

/** The token kinds of libdm's config tokenizer (libdm/libdm-config.c). */
export type TokenKind =
  | 'int' | 'float'
  | 'string' // '...', no escapes
  | 'string-escaped' // "...", \" and \\ escaped
  | 'string-bare' // an unquoted word where a value may stand
  | 'identifier' // an unquoted word where a key stands
  | '=' | '{' | '}' | '[' | ']' | ',' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The raw text, quotes included. */
  text: string;
  line: number;
  column: number;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
/** What ends an unquoted word: note that `[`, `]` and `,` do not (as in libdm). */
const endsWord = (c: string): boolean => isSpace(c) || c === '\0' || c === '#' || c === '=' || c === '{' || c === '}';

/**
 * libdm decides between a value and a key by the token before: after `=`, `[` or `,` a word
 * starting with a digit, sign or dot is a number and any other word a bare string; elsewhere
 * every word is an identifier. The lexer therefore takes the previous token kind on each call.
 */
export class Lexer {
  private pos = 0;
  private line = 1;
  private column = 1;
  /** A NUL ends the text, as it ends LVM2's buffer. */
  private readonly end: number;

  constructor(private readonly src: string) {
    const nul = src.indexOf('\0');
    this.end = nul < 0 ? src.length : nul;
  }

  next(prev: TokenKind): Token {
    this.skipSpaceAndComments();
    const line = this.line;
    const column = this.column;
    const start = this.pos;
    if (start >= this.end) return { kind: 'eof', text: '', line, column };
    const c = this.src[start]!;
    const valuesAllowed = prev === '=' || prev === '[' || prev === ',';
    let kind: TokenKind;
    let i = start + 1;
    if (c === '{' || c === '}' || c === '[' || c === ']' || c === ',' || c === '=') {
      kind = c;
    } else if (c === '"' || c === "'") {
      kind = c === '"' ? 'string-escaped' : 'string';
      while (i < this.end && this.src[i] !== c) i += c === '"' && this.src[i] === '\\' && i + 1 < this.end ? 2 : 1;
      if (i >= this.end) throw new LvmError('PARSE', `${line}:${column}`, `line ${line}, column ${column}: unterminated string`);
      i++;
    } else if (valuesAllowed && (isDigit(c) || c === '+' || c === '-' || c === '.')) {
      kind = c === '.' ? 'float' : 'int';
      for (; i < this.end; i++) {
        const d = this.src[i]!;
        if (d === '.' && kind === 'int') kind = 'float';
        else if (!isDigit(d)) break;
      }
    } else {
      kind = valuesAllowed ? 'string-bare' : 'identifier';
      while (i < this.end && !endsWord(this.src[i]!)) i++;
    }
    const text = this.src.slice(start, i);
    this.advanceTo(i);
    return { kind, text, line, column };
  }

  private skipSpaceAndComments(): void {
    for (;;) {
      while (this.pos < this.end && isSpace(this.src[this.pos]!)) this.advanceTo(this.pos + 1);
      if (this.pos >= this.end || this.src[this.pos] !== '#') return;
      let i = this.pos;
      while (i < this.end && this.src[i] !== '\n') i++;
      this.advanceTo(i);
    }
  }

  private advanceTo(to: number): void {
    for (; this.pos < to; this.pos++) {
      if (this.src[this.pos] === '\n') {
        this.line++;
        this.column = 1;
      } else this.column++;
    }
  }
}
