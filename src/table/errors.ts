/** The rule a table broke; stable strings callers can switch on. */
export type TableRule =
  | 'syntax' // a line or a target's parameters do not parse
  | 'field' // a field value the target refuses (e.g. a thin-pool block size out of range)
  | 'empty-table'
  | 'gap' // targets must start at sector 0 and follow each other without a hole
  | 'overlap'
  | 'zero-length'
  | 'chunk-size' // snapshot chunk size: a power of two, > 0
  | 'cow-is-origin'
  | 'device-missing'
  | 'device-too-small'
  | 'merge-beside-origin'
  | 'unknown-target'
  | 'target-version'
  | 'read-only'; // the target loads only in a read-only table (verity)

/**
 * Every problem with a table. `line` is 1-based: the line of the text given to parseTable, or the
 * target's position in the table (which is its line in formatTable's output). 0 when not known.
 * Messages never carry a crypt key.
 */
export class TableError extends RangeError {
  /** Always `'TableError'`. */
  override name = 'TableError';
  /** The target's position in the table (its line in formatTable's output); 0 when not known. */
  readonly line: number;
  /** Which rule the table breaks. */
  readonly rule: TableRule;
  /** The type of the target at fault, when known. */
  readonly targetType?: string;
  /** What the message says without the "line N: type:" prefix. */
  readonly detail: string;

  constructor(detail: string, rule: TableRule, line = 0, targetType?: string) {
    const where = [line > 0 ? `line ${line}` : '', targetType ?? ''].filter(Boolean).join(': ');
    super(where ? `${where}: ${detail}` : detail);
    this.detail = detail;
    this.rule = rule;
    this.line = line;
    this.targetType = targetType;
  }

  /** The same problem placed on a line (parsers learn the line only from their caller). */
  at(line: number, targetType = this.targetType): TableError {
    return new TableError(this.detail, this.rule, line, targetType);
  }
}
