import { type ConfigNode, type ConfigScalar, type ConfigSection, type ConfigValue, type Position, child } from './config-text';
import { LvmError } from './errors';

const U32_MAX = 0xffffffffn;
const U64_MAX = (1n << 64n) - 1n;

/** A section of the metadata with the path that names it in messages. */
export interface Scope {
  section: ConfigSection;
  path: string;
}

export const whereOf = (path: string, at: Position): string => `${path} (line ${at.line}:${at.column})`;

export function subsections(scope: Scope): Scope[] {
  return scope.section.children.flatMap((n) =>
    n.kind === 'section' ? [{ section: n, path: `${scope.path}/${n.key}` }] : [],
  );
}

export function optionalSection(scope: Scope, key: string): Scope | undefined {
  const n = child(scope.section, key);
  if (!n) return undefined;
  if (n.kind !== 'section') throw new LvmError('BAD_VALUE', whereOf(`${scope.path}/${key}`, n.at), `${key} should be a section`);
  return { section: n, path: `${scope.path}/${key}` };
}

export function section(scope: Scope, key: string): Scope {
  const s = optionalSection(scope, key);
  if (!s) throw missing(scope, key);
  return s;
}

function value(scope: Scope, key: string): { v: ConfigValue; where: string } | undefined {
  const n: ConfigNode | undefined = child(scope.section, key);
  if (!n) return undefined;
  const where = whereOf(`${scope.path}/${key}`, n.at);
  if (n.kind !== 'setting') throw new LvmError('BAD_VALUE', where, `${key} should be a value, not a section`);
  return { v: n.value, where };
}

const missing = (scope: Scope, key: string): LvmError =>
  new LvmError('MISSING_FIELD', whereOf(scope.path, scope.section.at), `${key} is missing`);

function scalar(scope: Scope, key: string, kind: ConfigScalar['kind']): { s: ConfigScalar; where: string } | undefined {
  const got = value(scope, key);
  if (!got) return undefined;
  if (got.v.kind !== kind) throw new LvmError('BAD_VALUE', got.where, `${key} should be ${kind === 'int' ? 'an integer' : `a ${kind}`}`);
  return { s: got.v, where: got.where };
}

export function optionalInt(scope: Scope, key: string, min: bigint, max: bigint): bigint | undefined {
  const got = scalar(scope, key, 'int');
  if (!got) return undefined;
  const v = got.s.value as bigint;
  if (v < min || v > max) throw new LvmError('BAD_VALUE', got.where, `${key} = ${v} is outside ${min}..${max}`);
  return v;
}

export function u64(scope: Scope, key: string): bigint {
  const v = optionalInt(scope, key, 0n, U64_MAX);
  if (v === undefined) throw missing(scope, key);
  return v;
}

export function u32(scope: Scope, key: string, min = 0n): number {
  const v = optionalInt(scope, key, min, U32_MAX);
  if (v === undefined) throw missing(scope, key);
  return Number(v);
}

export function optionalString(scope: Scope, key: string): string | undefined {
  return scalar(scope, key, 'string')?.s.value as string | undefined;
}

export function string(scope: Scope, key: string): string {
  const v = optionalString(scope, key);
  if (v === undefined) throw missing(scope, key);
  return v;
}

/** Where a key sits, for messages about its value. */
export function whereKey(scope: Scope, key: string): string {
  const n = child(scope.section, key);
  return n ? whereOf(`${scope.path}/${key}`, n.at) : whereOf(scope.path, scope.section.at);
}

/** A list of strings (status, flags, tags); absent is empty unless `required`. */
export function stringList(scope: Scope, key: string, required = false): string[] {
  const got = value(scope, key);
  if (!got) {
    if (required) throw missing(scope, key);
    return [];
  }
  const items = got.v.kind === 'list' ? got.v.items : [got.v];
  return items.map((i) => {
    if (i.kind !== 'string') throw new LvmError('BAD_VALUE', got.where, `${key} should list strings`);
    return i.value;
  });
}

/** The raw list under `key`, for the area lists of segments. */
export function list(scope: Scope, key: string): { items: ConfigScalar[]; where: string } {
  const got = value(scope, key);
  if (!got) throw missing(scope, key);
  if (got.v.kind !== 'list') throw new LvmError('BAD_VALUE', got.where, `${key} should be a list`);
  return { items: got.v.items, where: got.where };
}
