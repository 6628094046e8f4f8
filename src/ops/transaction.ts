// The step engine under every live operation. Each step runs after a fault point, and registers
// how to undo it; a failure before the commit point rolls back in reverse order, and whatever
// happens, nothing this transaction suspended stays suspended.
import fs from 'node:fs';
import * as dm from '../dm';
import { sleep } from '../dm/call';
import type { RawTarget } from '../native';
import { OperationError, type DeviceState, type OperationState } from './errors';
import { faultPoint } from './faults';
import { infoOrNone, liveTable, sameTable, secureTable } from './kernel';
import { newNonce } from './naming';
import { checkNoHeldRefs, forgetHeld, resumeHeld, suspendHeld, syncHeld } from './stack';

/** A device as it was before the transaction touched it (or: created by it, with this uuid). */
interface Original {
  name: string;
  existed: boolean;
  uuid?: string;
  table?: RawTarget[];
  readOnly?: boolean;
}

/** Removes a device, resuming it first if it is suspended (a suspended device may hold I/O). */
export async function removeDevice(name: string, retry: dm.RemoveOptions['retry'] = true): Promise<void> {
  const info = infoOrNone(name);
  if (!info) return;
  // A table that never went live must not go live now: drop it, then let queued I/O go.
  if (info.flags.inactivePresent) await dm.clearTable(name).catch(() => undefined);
  if (info.flags.suspended) await dm.resume(name, { node: false }).catch(() => undefined);
  await dm.remove(name, { retry });
  forgetHeld(info);
}

/** Removes a device this transaction created, and only that one: the name may have been taken
 *  since by a device someone else made (its uuid, without our nonce, tells them apart). */
async function removeOwn(o: Original): Promise<void> {
  const info = infoOrNone(o.name);
  if (info && info.uuid === o.uuid) await removeDevice(o.name);
}

/** Brings a device back to how it was: no inactive table, its old live table, not suspended. */
async function restore(o: Original): Promise<void> {
  if (!o.existed) return removeOwn(o);
  const info = infoOrNone(o.name);
  if (!info) throw new Error(`${o.name} is gone`);
  if (info.flags.inactivePresent) await dm.clearTable(o.name);
  let suspended = info.flags.suspended;
  if (!sameTable(liveTable(o.name), o.table!)) {
    await dm.loadRawTable(o.name, o.table!, { readOnly: o.readOnly, secure: secureTable(o.table!) });
    if (!suspended) await suspendHeld(o.name);
    suspended = true;
  }
  if (suspended) await resumeHeld(o.name);
}

export class Tx {
  readonly completed: string[] = [];
  private readonly undos: { step: string; fn: () => Promise<void> }[] = [];
  private readonly originals = new Map<string, Original>();
  private readonly files = new Set<string>();
  private readonly suspendedHere = new Set<string>();
  private readonly notes: string[] = [];
  private current = 'prepare';
  private committed = false;

  /** This operation's own: every device it creates carries it in its uuid (see naming.ts). */
  readonly nonce = newNonce();

  constructor(readonly op: string) {}

  /** Records a device's state before anything changes it. */
  remember(name: string): void {
    if (this.originals.has(name)) return;
    const info = dm.infoSync(name);
    this.originals.set(name, { name, existed: true, table: liveTable(name), readOnly: info.flags.readOnly });
  }

  /** Runs one step after its fault point `<op>:<step>`; `undo` is kept for a rollback. */
  async step<T>(step: string, run: () => Promise<T>, undo?: (r: T) => Promise<void>): Promise<T> {
    this.current = step;
    await faultPoint(`${this.op}:${step}`);
    const r = await run();
    this.completed.push(step);
    if (undo && !this.committed) this.undos.push({ step, fn: () => undo(r) });
    return r;
  }

  /** Past this point the operation has taken effect: later failures are reported, not undone. */
  commit(): void {
    this.committed = true;
    this.undos.length = 0;
  }

  /** A step after the commit point whose failure is noted (and reported at the end) but stops nothing. */
  async cleanup(step: string, run: () => Promise<void>): Promise<void> {
    try {
      await this.step(step, run);
    } catch (err) {
      this.notes.push(`${step} failed: ${(err as Error).message}`);
      this.cleanupError ??= { step, err };
    }
  }
  private cleanupError?: { step: string; err: unknown };
  private readonly finals: (() => Promise<void>)[] = [];

  /** Runs at the end once the transaction has committed, even when a later step failed. */
  afterCommit(fn: () => Promise<void>): void {
    this.finals.push(fn);
  }

  private async runFinals(): Promise<void> {
    if (!this.committed) return;
    for (const f of this.finals.splice(0)) {
      try {
        await f();
      } catch (err) {
        this.notes.push((err as Error).message);
      }
    }
  }

  // ---- device steps; `role` names the device in step names ('V', 'base', 'S') ----

  /** Creates a device with `uuid`, which must carry this transaction's nonce: a rollback removes
   *  the device only while the name still has that uuid. */
  async create(role: string, name: string, uuid: string, o: Omit<dm.CreateOptions, 'uuid'> = {}): Promise<void> {
    if (!uuid.includes(this.nonce)) throw new Error(`internal: the uuid of ${name} must carry the operation's nonce`);
    const own: Original = { name, existed: false, uuid };
    await this.step(`create ${role}`, async () => {
      try {
        await dm.create(name, { ...o, uuid });
      } catch (err) {
        // Only a device this call made is ours to remove (never one that had the name already).
        if (infoOrNone(name)?.uuid === uuid) this.originals.set(name, own);
        throw err;
      }
      this.originals.set(name, own);
    }, () => removeOwn(own));
  }

  async load(role: string, name: string, targets: RawTarget[], o: dm.LoadOptions = {}): Promise<void> {
    if (this.originals.get(name)?.existed !== false) this.remember(name);
    await this.step(`load ${role}`, async () => {
      checkNoHeldRefs(name, targets);
      await dm.loadRawTable(name, targets, o);
    }, () => this.restore(name));
  }

  async suspend(role: string, name: string, o: dm.SuspendOptions = {}): Promise<void> {
    if (this.originals.get(name)?.existed !== false) this.remember(name);
    await this.step(`suspend ${role}`, async () => {
      this.suspendedHere.add(name);
      await suspendHeld(name, o);
    }, () => this.restore(name));
  }

  /**
   * Suspends `devices` (top of the stack first) and resumes them in the reverse order in one native
   * call, so no JavaScript runs inside the freeze window. Each suspend and resume is still a step of
   * its own (`suspend <role>`, `resume <role>`) with its fault point and its undo; the fault points
   * are asked before the window, and the first that throws ends the sequence at that step.
   * Returns the window in milliseconds.
   */
  async freeze(devices: readonly { role: string; name: string }[], o: dm.SuspendOptions = {}): Promise<number> {
    const steps = [
      ...devices.map((d) => ({ step: `suspend ${d.role}`, name: d.name, suspend: true })),
      ...[...devices].reverse().map((d) => ({ step: `resume ${d.role}`, name: d.name, suspend: false })),
    ];
    for (const d of devices) if (this.originals.get(d.name)?.existed !== false) this.remember(d.name);
    let injected: { index: number; error: Error } | undefined;
    for (const [i, s] of steps.entries()) {
      try {
        await faultPoint(`${this.op}:${s.step}`);
      } catch (error) {
        injected = { index: i, error: error as Error };
        break;
      }
    }
    for (const d of devices) this.suspendedHere.add(d.name);
    const run = steps.slice(0, injected?.index ?? steps.length);
    const r = await dm.suspendSequence(run.map((s) => ({ ref: s.name, suspend: s.suspend })), o);
    syncHeld(devices.map((d) => d.name));
    for (const s of steps.slice(0, r.completed)) {
      this.completed.push(s.step);
      if (!this.committed) this.undos.push({ step: s.step, fn: () => this.restore(s.name) });
    }
    const failed = r.failed ?? injected;
    if (failed) {
      this.current = steps[failed.index].step;
      throw failed.error;
    }
    return r.elapsedNs / 1e6;
  }

  async resume(role: string, name: string): Promise<void> {
    await this.step(`resume ${role}`, () => resumeHeld(name), () => this.restore(name));
  }

  async remove(role: string, name: string, retry: dm.RemoveOptions['retry'] = true): Promise<void> {
    await this.step(`remove ${role}`, () => removeDevice(name, retry));
  }

  /** A file this transaction creates; a rollback deletes it. */
  async createFile(role: string, file: string, make: () => Promise<void>): Promise<void> {
    await this.step(`create ${role}`, async () => {
      this.files.add(file);
      await make();
    }, () => fs.promises.rm(file, { force: true }));
  }

  private async restore(name: string): Promise<void> {
    const o = this.originals.get(name);
    if (o) await restore(o);
  }

  /** Undoes every completed step, newest first; returns what could not be undone. */
  private async rollback(): Promise<void> {
    // First every inactive table goes: none of them ever went live, and one left loaded can block
    // an undo (a snapshot cannot resume while a table that would take over its COW is loaded).
    for (const o of this.originals.values()) {
      const info = infoOrNone(o.name);
      if (info?.flags.inactivePresent) {
        await dm.clearTable(o.name).catch((err: Error) => this.notes.push(`clearing the inactive table of ${o.name} failed: ${err.message}`));
      }
    }
    for (const u of this.undos.reverse()) {
      try {
        await u.fn();
      } catch (err) {
        this.notes.push(`undo of "${u.step}" failed: ${(err as Error).message}`);
      }
    }
    // Anything still not as before gets one more, direct, attempt.
    for (const o of [...this.originals.values()].reverse()) await restore(o).catch(() => undefined);
  }

  /** Resumes every device this transaction suspended and left suspended. */
  private async resumeAll(): Promise<void> {
    for (const name of [...this.suspendedHere].reverse()) {
      const info = infoOrNone(name);
      if (!info?.flags.suspended) continue;
      // A bad inactive table must not go live by accident: drop it before a rescue resume.
      if (!this.committed && info.flags.inactivePresent) await dm.clearTable(name).catch(() => undefined);
      for (let i = 0; i < 3; i++) {
        try {
          await resumeHeld(name);
          break;
        } catch (err) {
          if (i === 2) this.notes.push(`could not resume ${name}: ${(err as Error).message}`);
          else await sleep(100);
        }
      }
    }
  }

  /** What every touched device (and file) is now. */
  state(): OperationState {
    const devices: DeviceState[] = [...this.originals.values()].map((o) => {
      const found = infoOrNone(o.name);
      // A device of that name someone else made is not the one this transaction created.
      const info = o.existed || found?.uuid === o.uuid ? found : undefined;
      const d: DeviceState = { name: o.name, existedBefore: o.existed, exists: !!info };
      if (info) {
        d.suspended = info.flags.suspended;
        d.inactiveTable = info.flags.inactivePresent;
        if (o.existed) d.tableAsBefore = sameTable(liveTable(o.name), o.table!);
      }
      return d;
    });
    const notes = [...this.notes];
    for (const f of this.files) if (fs.existsSync(f)) notes.push(`${f} is left behind`);
    const asBefore =
      !this.committed &&
      notes.length === 0 &&
      devices.every((d) => d.exists === d.existedBefore && !d.suspended && !d.inactiveTable && d.tableAsBefore !== false);
    return { asBefore, devices, notes };
  }

  /** Runs an operation's body: rollback on failure before commit, never a device left suspended. */
  async run<T>(body: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await body();
    } catch (err) {
      const step = this.current;
      if (!this.committed) await this.rollback();
      await this.runFinals();
      await this.resumeAll();
      throw new OperationError({ operation: this.op, step, cause: err, state: this.state(), completed: this.completed, committed: this.committed });
    }
    await this.runFinals();
    await this.resumeAll();
    if (this.cleanupError) {
      const { step, err } = this.cleanupError;
      throw new OperationError({ operation: this.op, step, cause: err, state: this.state(), completed: this.completed, committed: true });
    }
    return result;
  }
}
