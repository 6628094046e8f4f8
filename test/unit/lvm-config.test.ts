import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConfigNode, type ConfigScalar, LvmError, parseConfigText } from '../../src/lvm';
import { printConfig } from '../helpers/lvm-image';

/** The tree without positions, for comparisons. */
const plain = (nodes: ConfigNode[]): unknown[] =>
  nodes.map((n) => (n.kind === 'section'
    ? { s: n.key, c: plain(n.children) }
    : { k: n.key, v: n.value.kind === 'list' ? n.value.items.map(sc) : sc(n.value) }));
const sc = (v: ConfigScalar): unknown => [v.kind, v.value];

const only = (text: string): unknown => plain(parseConfigText(text).children)[0];
const parseError = (text: string): LvmError => {
  try {
    parseConfigText(text);
  } catch (e) {
    expect(e).toBeInstanceOf(LvmError);
    expect((e as LvmError).code).toBe('PARSE');
    return e as LvmError;
  }
  throw new Error(`parsed: ${text}`);
};

describe('LVM2 config text grammar (libdm-config.c)', () => {
  it('reads sections, values, lists and comments, keeping text order', () => {
    const t = parseConfigText('# top comment\na = 1 # trailing\nvg {\n\tb = "x"\n\tc = [1, "two", 3.5]\n\td = []\n}\n');
    expect(plain(t.children)).toEqual([
      { k: 'a', v: ['int', 1n] },
      { s: 'vg', c: [{ k: 'b', v: ['string', 'x'] }, { k: 'c', v: [['int', 1n], ['string', 'two'], ['float', 3.5]] }, { k: 'd', v: [] }] },
    ]);
    expect(t.children[1]!.at).toEqual({ line: 3, column: 1 });
  });

  it('unescapes only \\" and \\\\ in double quotes; single quotes take everything literally', () => {
    expect(only(String.raw`k = "a\"b\\c\nd"`)).toEqual({ k: 'k', v: ['string', 'a"b\\c\\nd'] });
    expect(only(String.raw`k = 'a\"b'`)).toEqual({ k: 'k', v: ['string', 'a\\"b'] });
    expect(only('k = "has # and } inside"')).toEqual({ k: 'k', v: ['string', 'has # and } inside'] });
    expect(only('"quoted#key" = 1')).toEqual({ k: 'quoted#key', v: ['int', 1n] });
  });

  it('reads integers as strtoll(base 0) does: signs, octal after a leading 0, full int64 range as bigint', () => {
    expect(only('k = -1')).toEqual({ k: 'k', v: ['int', -1n] });
    expect(only('k = +7')).toEqual({ k: 'k', v: ['int', 7n] });
    expect(only('k = 010')).toEqual({ k: 'k', v: ['int', 8n] });
    expect(only('k = 9223372036854775807')).toEqual({ k: 'k', v: ['int', 9223372036854775807n] });
    expect(only('k = -9223372036854775808')).toEqual({ k: 'k', v: ['int', -9223372036854775808n] });
    expect(parseError('k = 9223372036854775808').where).toBe('1:5');
    expect(parseError('k = 09').message).toMatch(/not an integer/);
    expect(parseError('k = -').message).toMatch(/not an integer/);
    // libdm repairs the out-of-range creation_time some old 32-bit builds wrote
    expect(only('creation_time = 99999999999999999999')).toEqual({ k: 'creation_time', v: ['int', 1527120000n] });
  });

  it('reads floats, including those strtod reads from a bare dot', () => {
    expect(only('k = 1.5')).toEqual({ k: 'k', v: ['float', 1.5] });
    expect(only('k = -.25')).toEqual({ k: 'k', v: ['float', -0.25] });
    expect(only('k = .')).toEqual({ k: 'k', v: ['float', 0] });
  });

  it('needs no comma after a quoted list item but does after a number (a word after a value is a key)', () => {
    expect(only('k = ["a" "b", 3]')).toEqual({ k: 'k', v: [['string', 'a'], ['string', 'b'], ['int', 3n]] });
    expect(parseError('k = [1 2]').message).toMatch(/column 8: expected a value, found "2\]"/);
  });

  it('takes an unquoted word where a value stands as a bare string', () => {
    expect(only('k = word')).toEqual({ k: 'k', v: ['string', 'word'] });
  });

  it('keeps digits in keys (a word is a number only where a value stands)', () => {
    expect(only('0abc = 1')).toEqual({ k: '0abc', v: ['int', 1n] });
  });

  it('stops at a NUL, as LVM2 stops at the terminator it writes after the text', () => {
    expect(plain(parseConfigText('a = 1\n\0garbage {{{').children)).toEqual([{ k: 'a', v: ['int', 1n] }]);
  });

  it('reports malformed text with line and column', () => {
    expect(parseError('vg {\n\ta = 1\n').message).toMatch(/line 3, column 1: unexpected end of text, a \} is missing/);
    expect(parseError('vg {\n\ta = \n}').where).toBe('3:1');
    expect(parseError('vg {\n  a b\n}').where).toBe('2:5');
    expect(parseError('a = "open\n\nb = 2').where).toBe('1:5');
    expect(parseError('a = [[1]]').where).toBe('1:6');
    expect(parseError('a = 1\n= 2').where).toBe('2:1');
    expect(parseError('"" = 1').message).toMatch(/empty key/);
  });
});

const INT64 = { min: -(1n << 63n), max: (1n << 63n) - 1n };
const at = { line: 0, column: 0 };
const scalar: fc.Arbitrary<ConfigScalar> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => !s.includes('\0')).map((value) => ({ kind: 'string' as const, value, at })),
  fc.bigInt(INT64).map((value) => ({ kind: 'int' as const, value, at })),
  // printf("%f") keeps 6 decimals; values with at most 3 survive the trip exactly
  fc.integer({ min: -1e9, max: 1e9 }).map((n) => ({ kind: 'float' as const, value: n / 1000 + 0, at })),
);
const key = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,10}$/),
  fc.stringMatching(/^[a-z]{1,4}[#"!][a-z\\]{0,4}$/), // printed quoted, as libdm quotes them
);
const tree: fc.Arbitrary<ConfigNode[]> = fc.letrec<{ nodes: ConfigNode[] }>((tie) => ({
  nodes: fc.array(
    fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('setting' as const), key, at: fc.constant(at), value: fc.oneof(scalar, fc.array(scalar, { maxLength: 5 }).map((items) => ({ kind: 'list' as const, items, at }))) }),
      fc.record({ kind: fc.constant('section' as const), key, at: fc.constant(at), children: tie('nodes') }),
    ),
    { maxLength: 5 },
  ),
})).nodes;

describe('LVM2 config text round trip', () => {
  it('parse(print(tree)) gives the tree back for random trees printed in libdm style', () => {
    fc.assert(
      fc.property(tree, (nodes) => {
        const text = printConfig(nodes);
        expect(plain(parseConfigText(text).children)).toEqual(plain(nodes));
      }),
      { numRuns: 200 },
    );
  });

  it('random text either parses or fails with an LvmError PARSE naming line:column', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '1', '-', '.', ' ', '\n', '"', "'", '\\', '#', '=', '{', '}', '[', ']', ','), maxLength: 40 }), (text) => {
        try {
          parseConfigText(text);
        } catch (e) {
          expect(e).toBeInstanceOf(LvmError);
          expect((e as LvmError).where).toMatch(/^\d+:\d+$/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
