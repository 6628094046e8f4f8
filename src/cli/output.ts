// What verbs print: JSON (bigints as exact numbers), aligned human tables, and dmsetup's lines.
import { formatSize } from '../units';

let stdout: (s: string) => void = (s) => void process.stdout.write(s);

/** Tests capture output here instead of stdout. */
export function setWriter(w: (s: string) => void): void {
  stdout = w;
}

export function write(text: string): void {
  stdout(text);
}

export function line(text = ''): void {
  stdout(`${text}\n`);
}

const BIG = '\u0000big:';

/** JSON with two-space indent (or `space`); bigints come out as plain JSON numbers, every digit kept. */
export function toJson(value: unknown, space: number = 2): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${BIG}${v}` : v), space);
  // JSON.stringify escapes the marker's NUL; no string from the kernel or the user holds a NUL.
  return text.replace(/"\\u0000big:(-?\d+)"/g, '$1');
}

export function json(value: unknown): void {
  line(toJson(value));
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n') + '\n';
}

export { hideKeys } from '../table';

export function printTable(headers: string[], rows: string[][]): void {
  write(table(headers, rows));
}

/** dmsetup's line for one target of a table or status: the space after the type stays. */
export function targetLine(t: { start: bigint; length: bigint; type: string; params: string }): string {
  return `${t.start} ${t.length} ${t.type} ${t.params}`;
}

export function size(bytes: bigint): string {
  return formatSize(bytes);
}

/** 1h02m, 3m05s, 42s. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
