// Checks a table before it goes to the kernel, so a refusal comes back as a named rule on a
// numbered line instead of EINVAL and a dmesg line.
import type { RawTargetVersion } from '../native';
import { devRefKey, type DevRef } from './devref';
import { TableError } from './errors';
import type { Table, Target } from './model';
import { descriptorFor } from './registry';
import { formatTarget, isGeneric, parseTarget } from './table';
import type { TargetDescriptor } from './types';

/** Sizes of devices, in 512-byte sectors; undefined: no such device. */
export interface DeviceProvider {
  /** `devRef` is the reference as the table spells it: "M:m", or a path if the table holds one. */
  sizeOf(devRef: string): bigint | undefined;
}

/** Options of validateTable() and tableProblems(). */
export interface ValidateOptions {
  /** Without it, device existence and size are not checked. */
  devices?: DeviceProvider;
  /** What LIST_VERSIONS returned. Without it, target types and versions are not checked. */
  versions?: readonly RawTargetVersion[];
  /** Turns a reference into a key for "same device?" (default: its spelling, {major,minor} as "M:m"). */
  identify?: (ref: DevRef) => string;
  /** The kernel's release (uname -r), for features that came without a target version bump. Without it, those are not checked. */
  kernelRelease?: string;
}

/** [major, minor] of a release such as "6.12.117+deb13-amd64"; undefined if it does not start so. */
export function linuxVersion(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether a kernel release (uname -r) is Linux `want` or later; false if it cannot be read. */
export function linuxAtLeast(release: string, want: readonly [number, number]): boolean {
  const have = linuxVersion(release);
  return have !== undefined && versionAtLeast(have, want);
}

function versionAtLeast(have: readonly number[], want: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0);
  return true;
}

const v = (x: readonly number[]) => x.join('.');

const kindOf = (x: unknown): string => (Array.isArray(x) ? 'array' : x === null ? 'null' : typeof x);

/** Same JS kind as the parsed value; a {major, minor} stands wherever a device string does. */
function sameKind(given: unknown, parsed: unknown): boolean {
  if (typeof parsed === 'string' && given !== null && typeof given === 'object' && 'major' in given && 'minor' in given) return true;
  return kindOf(given) === kindOf(parsed);
}

/**
 * The typed form of a target for checking: a generic target of a known type is parsed; a typed one
 * is formatted and parsed back, which catches field values the kernel could not be given (negative
 * numbers, words with spaces, a missing key) and fields of the wrong JS type (a number for a bigint).
 * undefined: no typed form to check.
 */
function typedForm(t: Target): { t: Target; d: TargetDescriptor } | TableError | undefined {
  const d = descriptorFor(t.type);
  if (!d) return undefined;
  try {
    if (isGeneric(t)) return { t: parseTarget(t.start, t.length, t.type, t.params), d };
    const back = parseTarget(t.start, t.length, t.type, formatTarget(t, { dev: devRefKey })) as unknown as Record<string, unknown>;
    const wrong = Object.keys(back).find((k) => !sameKind((t as unknown as Record<string, unknown>)[k], back[k]));
    if (wrong) return new TableError(`${wrong}: expected a ${kindOf(back[wrong])}, got a ${kindOf((t as unknown as Record<string, unknown>)[wrong])}`, 'field');
    return { t, d };
  } catch (e) {
    if (e instanceof TableError) return e;
    // A field of the wrong JS type (a number where a bigint belongs, say) fails inside format.
    return new TableError(`fields do not form a valid ${t.type} target (${(e as Error).message})`, 'field');
  }
}

/** Every problem found, in line order. */
export function tableProblems(table: Table, opts: ValidateOptions = {}): TableError[] {
  const out: TableError[] = [];
  if (!Array.isArray(table)) throw new TypeError('a table is an array of targets');
  if (table.length === 0) return [new TableError('a table needs at least one target', 'empty-table')];
  const identify = opts.identify ?? devRefKey;
  const origins = new Map<string, { line: number; type: string }>();
  let expected = 0n;

  table.forEach((t, i) => {
    try {
      checkTarget(t, i + 1);
    } catch (e) {
      // Validation reports; it does not crash on odd input (e.g. an identify() that cannot resolve a path).
      out.push(e instanceof TableError ? e.at(i + 1, t?.type) : new TableError(`cannot check this target: ${(e as Error).message}`, 'field', i + 1, t?.type));
    }
  });
  return out;

  function checkTarget(t: Target, line: number): void {
    const err = (msg: string, rule: TableError['rule']) => out.push(new TableError(msg, rule, line, t.type));
    if (typeof t.start !== 'bigint' || typeof t.length !== 'bigint' || typeof t.type !== 'string') {
      err('start and length must be bigints and type a string', 'syntax');
      return;
    }
    if (t.length <= 0n) err(`length must be > 0 (is ${t.length})`, 'zero-length');
    if (t.start > expected) err(`starts at sector ${t.start}, leaving sectors ${expected}..${t.start - 1n} unmapped`, 'gap');
    else if (t.start < expected) err(`starts at sector ${t.start}, inside the previous target (which ends at ${expected})`, 'overlap');
    expected = t.start + (t.length > 0n ? t.length : 0n);

    if (opts.versions) {
      const kv = opts.versions.find((x) => x.name === t.type);
      if (!kv) err(`the kernel has no target type ${JSON.stringify(t.type)}`, 'unknown-target');
    } else if (!isGeneric(t) && !descriptorFor(t.type)) {
      err(`unknown target type ${JSON.stringify(t.type)}`, 'unknown-target');
    }

    const td = typedForm(t);
    if (td instanceof TableError) {
      // Generic targets that do not parse are left to the kernel: they may use features newer than this library.
      if (!isGeneric(t)) out.push(td.at(line, t.type));
      return;
    }
    if (!td) return;
    for (const p of td.d.check?.(td.t) ?? []) err(p.message, p.rule);

    const tt = td.t as Target & { origin?: DevRef; cow?: DevRef };
    if ((t.type === 'snapshot' || t.type === 'snapshot-merge') && tt.origin !== undefined && tt.cow !== undefined && identify(tt.origin) === identify(tt.cow)) {
      err('the COW device is the origin itself', 'cow-is-origin');
    }
    if ((t.type === 'snapshot-origin' || t.type === 'snapshot-merge') && tt.origin !== undefined) {
      const key = identify(tt.origin);
      const prev = origins.get(key);
      if (prev && prev.type !== t.type) err(`${t.type} of ${key} beside the ${prev.type} on line ${prev.line}: a merge replaces the origin target, it does not join it`, 'merge-beside-origin');
      else if (!prev) origins.set(key, { line, type: t.type });
    }

    if (opts.devices) {
      for (const use of td.d.devices?.(td.t) ?? []) {
        const key = devRefKey(use.ref);
        const size = opts.devices.sizeOf(key);
        if (size === undefined) err(`${use.role} ${key} does not exist`, 'device-missing');
        else if (use.end !== undefined && size < use.end) err(`${use.role} ${key} has ${size} sectors; this target needs ${use.end}`, 'device-too-small');
      }
    }

    const kv = opts.versions?.find((x) => x.name === t.type);
    if (kv) {
      const release = opts.kernelRelease;
      for (const f of td.d.features?.(td.t) ?? []) {
        if (!versionAtLeast(kv.version, f.version)) err(`${f.feature} needs ${t.type} target ${v(f.version)}; the kernel has ${v(kv.version)}`, 'target-version');
        else if (f.linux && release !== undefined && linuxVersion(release) && !linuxAtLeast(release, f.linux)) {
          err(`${f.feature} needs Linux ${v(f.linux)} (${t.type} target ${v(f.version)} gained it without a version bump); the kernel is ${opts.kernelRelease}`, 'target-version');
        }
      }
    }
  }
}

/** Throws the first problem (a TableError); returns nothing when the table is fit to load. */
export function validateTable(table: Table, opts: ValidateOptions = {}): void {
  const [first] = tableProblems(table, opts);
  if (first) throw first;
}
