import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { CryptKey, formatTable, parseTable, parseTarget, tableProblems, validateTable, type CryptTarget } from '../../src/table';

const KEY = '0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210';
const LINE = `0 2048 crypt aes-xts-plain64 ${KEY} 0 7:0 0 1 allow_discards`;

function leaks(text: string): boolean {
  return text.toLowerCase().includes(KEY) || text.includes(KEY.slice(8, 24));
}

describe('crypt key secrecy', () => {
  const [t] = parseTable(LINE) as CryptTarget[];

  it('formats into the table (the ioctl needs it) and nowhere else', () => {
    expect(formatTable([t])).toBe(`${LINE}\n`);
    expect(leaks(String(t))).toBe(false);
    expect(leaks(String(t.key))).toBe(false);
    expect(leaks(`${t.key}`)).toBe(false);
    expect(leaks(JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? String(v) : v)))).toBe(false);
    expect(leaks(util.inspect(t, { depth: 10, showHidden: true }))).toBe(false);
    expect(leaks(util.format('%o %O %j %s', t.key, t, t.key, t.key))).toBe(false);
    expect(Object.keys(t.key)).toEqual([]);
  });

  it('never shows in an error message, whatever is wrong', () => {
    const bad = [
      `0 2048 crypt aes-xts-plain64 ${KEY.slice(1)} 0 7:0 0`, // odd hex
      `0 2048 crypt aes-xts-plain64 ${KEY}zz 0 7:0 0`,
      `0 2048 crypt aes-xts-plain64 ${KEY} x 7:0 0`,
      `0 2048 crypt aes-xts-plain64 ${KEY} 0 7:0`,
      `0 2048 crypt aes-xts-plain64 ${KEY} 0 7:0 0 2 allow_discards`,
      `0 2048 crypt aes-xts-plain64 ${KEY} 0 7:0 0 1 ${KEY}`,
      `0 2048 crypt aes-xts-plain64 ${KEY} 0 7:0 0 0 extra`,
    ];
    for (const text of bad) {
      let msg = '';
      try {
        parseTable(text);
      } catch (e) {
        msg = `${(e as Error).message} ${(e as Error).stack} ${util.inspect(e)}`;
      }
      expect(msg).not.toBe('');
      expect(leaks(msg)).toBe(false);
    }
  });

  it('validation errors about a crypt target do not carry the key', () => {
    const gap = { ...t, start: 8n };
    const problems = tableProblems([gap], { devices: { sizeOf: () => undefined } });
    expect(problems.map((p) => [p.line, p.rule])).toEqual([[1, 'gap'], [1, 'device-missing']]);
    for (const p of problems) expect(leaks(`${p.message} ${util.inspect(p)}`)).toBe(false);
    expect(() => validateTable([gap])).toThrow(expect.objectContaining({ rule: 'gap' }));
  });

  it('reveal() and wipe() give the owner control over the bytes', () => {
    const k = CryptKey.fromHex(KEY);
    expect(k.reveal()?.toString('hex')).toBe(KEY);
    expect(k.size).toBe(32);
    k.wipe();
    expect(k.format()).toBe('0'.repeat(64));
    const target = parseTarget(0n, 8n, 'crypt', `aes-xts-plain64 ${KEY} 0 7:0 0`) as CryptTarget;
    expect(target.key.equals(CryptKey.fromHex(KEY.toUpperCase()))).toBe(true);
  });

  it('a keyring reference and an empty key ("-") round-trip', () => {
    for (const params of ['aes-xts-plain64 :64:logon:cryptsetup:x 0 7:0 0', 'aes-xts-plain64 - 0 7:0 0']) {
      expect(formatTable([parseTarget(0n, 8n, 'crypt', params)])).toBe(`0 8 crypt ${params}\n`);
    }
  });

  it('an integrity hash/journal key is kept the same way', () => {
    const text = `0 8 integrity 7:0 0 32 J 2 internal_hash:hmac(sha256):${KEY} journal_mac:hmac(sha256):${KEY}\n`;
    const table = parseTable(text);
    expect(formatTable(table)).toBe(text);
    expect(leaks(util.inspect(table, { depth: 10 }))).toBe(false);
    expect(leaks(JSON.stringify(table, (_k, v) => (typeof v === 'bigint' ? String(v) : v)))).toBe(false);
    let msg = '';
    try {
      parseTable(`0 8 integrity 7:0 0 32 J 1 internal_hash:hmac(sha256):${KEY}x`);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).not.toBe('');
    expect(leaks(msg)).toBe(false);
  });
});
