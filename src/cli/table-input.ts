// Table text from the command line to what TABLE_LOAD takes, checked first so a malformed table
// fails with its line number (exit 3) instead of the kernel's EINVAL.
import type { RawTarget } from '../native';
import { needsSecureData, parseTable, TableError, toRawTargets, validateTable } from '../table';

export interface PreparedTable {
  raw: RawTarget[];
  /** The table holds a key: load it with DM_SECURE_DATA_FLAG. */
  secure: boolean;
  sectors: bigint;
}

/** `checks: false` sends the lines as they are and leaves every judgement to the kernel. */
export function prepareTable(text: string, checks = true): PreparedTable {
  // Params go to the kernel exactly as written; the typed parse is only for checking.
  const generic = parseTable(text, { generic: true });
  if (generic.length === 0) throw new TableError('the table has no targets', 'empty-table');
  if (checks) validateTable(parseTable(text));
  const raw = toRawTargets(generic);
  return { raw, secure: needsSecureData(generic), sectors: raw.reduce((n, t) => n + t.length, 0n) };
}
