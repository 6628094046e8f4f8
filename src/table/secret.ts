// A crypt key as a value that refuses to show itself: not in JSON, util.inspect, String(),
// nor in any error. Only format() for the ioctl payload and reveal() see it.
import util from 'node:util';
import { TableError } from './errors';

const REDACTED = '[redacted]';

type KeyForm =
  | { kind: 'hex'; bytes: Buffer }
  | { kind: 'none' }
  /** `:<key_size>:<key_type>:<key_description>`: a key in the kernel keyring, named not given. */
  | { kind: 'keyring'; size: number; keyType: string; description: string };

/**
 * A crypt key that does not show itself: not in JSON, util.inspect, String() or any error. Only format() and reveal() give it.
 */
export class CryptKey {
  #form: KeyForm;

  private constructor(form: KeyForm) {
    this.#form = form;
  }

  /** A hex key from its bytes (copied); no bytes gives the empty key `-`. */
  static fromBuffer(bytes: Uint8Array): CryptKey {
    if (bytes.length === 0) return CryptKey.none();
    return new CryptKey({ kind: 'hex', bytes: Buffer.from(bytes) });
  }

  /**
   * A hex key from its hex digits.
   * @throws TableError if the text is not an even number of hex digits.
   */
  static fromHex(hex: string): CryptKey {
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
      throw new TableError('crypt key: expected an even number of hex digits, "-", or :<size>:<type>:<description>', 'syntax');
    }
    return new CryptKey({ kind: 'hex', bytes: Buffer.from(hex, 'hex') });
  }

  /** The empty key, `-`. */
  static none(): CryptKey {
    return new CryptKey({ kind: 'none' });
  }

  /**
   * A key in the kernel keyring, by reference: `:<size>:<type>:<description>`.
   * @throws TableError for a bad size, type or description.
   */
  static keyring(size: number, keyType: string, description: string): CryptKey {
    if (!Number.isInteger(size) || size <= 0) throw new TableError('crypt key: keyring key size must be a positive integer', 'syntax');
    if (!keyType || /[\s:]/.test(keyType) || !description || /\s/.test(description)) {
      throw new TableError('crypt key: keyring type and description must be non-empty words', 'syntax');
    }
    return new CryptKey({ kind: 'keyring', size, keyType, description });
  }

  /** Parses the table word: hex, "-" or ":size:type:description". */
  static parse(word: string): CryptKey {
    if (word === '-') return CryptKey.none();
    if (word.startsWith(':')) {
      const m = /^:(\d+):([^:]+):(.+)$/.exec(word);
      if (!m) throw new TableError('crypt key: malformed keyring reference', 'syntax');
      return CryptKey.keyring(Number(m[1]), m[2], m[3]);
    }
    return CryptKey.fromHex(word);
  }

  /** `hex`, `none` or `keyring`. */
  get kind(): KeyForm['kind'] {
    return this.#form.kind;
  }

  /** Key size in bytes (what the kernel keeps as key_size). */
  get size(): number {
    const f = this.#form;
    return f.kind === 'hex' ? f.bytes.length : f.kind === 'keyring' ? f.size : 0;
  }

  /** The table word, as the kernel prints it back (hex in lower case). For the ioctl payload only. */
  format(): string {
    const f = this.#form;
    if (f.kind === 'none') return '-';
    if (f.kind === 'keyring') return `:${f.size}:${f.keyType}:${f.description}`;
    return f.bytes.toString('hex');
  }

  /** A copy of the raw key bytes (hex keys only); the caller owns wiping it. */
  reveal(): Buffer | undefined {
    const f = this.#form;
    return f.kind === 'hex' ? Buffer.from(f.bytes) : undefined;
  }

  /** Whether both keys have the same table word. */
  equals(other: CryptKey): boolean {
    return other instanceof CryptKey && this.format() === other.format();
  }

  /** Overwrites the key bytes held here; the key then reads as all zeros. */
  wipe(): void {
    if (this.#form.kind === 'hex') this.#form.bytes.fill(0);
  }

  /** `[redacted]`. */
  toString(): string {
    return REDACTED;
  }

  /** `[redacted]`: JSON never holds the key. */
  toJSON(): string {
    return REDACTED;
  }

  /** `CryptKey [redacted]`. */
  [util.inspect.custom](): string {
    return `CryptKey ${REDACTED}`;
  }
}
