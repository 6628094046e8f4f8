// The error every live operation throws once it has started changing things.

/** What one device was left as after an operation failed and was rolled back. */
export interface DeviceState {
  name: string;
  /** The device existed before the operation. */
  existedBefore: boolean;
  exists: boolean;
  suspended?: boolean;
  /** An inactive table is still loaded. */
  inactiveTable?: boolean;
  /** The live table equals the one it had before the operation. */
  tableAsBefore?: boolean;
}

/** Where everything ended up: `asBefore` is true when every device (and file) is as it was. */
export interface OperationState {
  asBefore: boolean;
  devices: DeviceState[];
  /** Anything else that is not as before (a file left behind, an undo that failed). */
  notes: string[];
}

/** A live operation failed at `step`; it was rolled back, and `state` says what everything is now. */
export class OperationError extends Error {
  /** Always `'OperationError'`. */
  override name = 'OperationError';
  /** e.g. 'divert', 'replace' */
  readonly operation: string;
  /** The step that failed, e.g. 'load V', 'suspend V', 'create base'. */
  readonly step: string;
  /** The cause's code (e.g. 'EINVAL', 'EBUSY') when it has one. */
  readonly code?: string;
  /** The state every device was left in, and whether it is as before the operation. */
  readonly state: OperationState;
  /** Steps completed before the failure, in order. */
  readonly completed: readonly string[];
  /** The operation had passed its point of no return: it took effect, and only a cleanup step after
   *  it failed (so `state` is not "as before"; the notes say what is left over). */
  readonly committed: boolean;

  constructor(o: { operation: string; step: string; cause: unknown; state: OperationState; completed: readonly string[]; committed?: boolean }) {
    const c = o.cause as { message?: string; code?: unknown } | undefined;
    const where = o.committed
      ? `the operation took effect, but a cleanup step failed: ${describeState(o.state)}`
      : o.state.asBefore
        ? 'rolled back: every device is as before'
        : `NOT fully rolled back: ${describeState(o.state)}`;
    super(`${o.operation} failed at step "${o.step}": ${c?.message ?? String(o.cause)}; ${where}`, { cause: o.cause });
    this.operation = o.operation;
    this.step = o.step;
    if (typeof c?.code === 'string') this.code = c.code;
    this.state = o.state;
    this.completed = o.completed;
    this.committed = !!o.committed;
  }
}

function describeState(s: OperationState): string {
  const parts = s.devices
    .filter((d) => d.exists !== d.existedBefore || d.suspended || d.inactiveTable || d.tableAsBefore === false)
    .map((d) => {
      if (!d.existedBefore && d.exists) return `${d.name} still exists`;
      if (d.existedBefore && !d.exists) return `${d.name} is gone`;
      const f = [d.suspended && 'suspended', d.inactiveTable && 'has an inactive table', d.tableAsBefore === false && 'has a different table'];
      return `${d.name} ${f.filter(Boolean).join(', ')}`;
    });
  return [...parts, ...s.notes].join('; ') || 'unknown';
}

/** An error with a code, for refusals found while inspecting (before anything changes). */
export function refusal(message: string, code = 'EINVAL'): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** An OperationError for a refusal before anything changed. */
export function refused(operation: string, step: string, cause: unknown): OperationError {
  return new OperationError({ operation, step, cause, state: { asBefore: true, devices: [], notes: [] }, completed: [] });
}
