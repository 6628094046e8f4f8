// Test hook: named fault points between the steps of every operation. A test installs a hook that
// throws (or returns a kernel-like refusal) at the point it names; production code never sets one.
import os from 'node:os';
import { DmError } from '../errors';

/** Called before each step with `<operation>:<step>`, e.g. 'replace:suspend V'. May throw. */
export type FaultHook = (point: string) => void | Promise<void>;

let hook: FaultHook | undefined;

/** Installs (or, with no argument, removes) the fault hook. Returns the previous one. */
export function setFaultHook(h?: FaultHook): FaultHook | undefined {
  const prev = hook;
  hook = h;
  return prev;
}

export async function faultPoint(point: string): Promise<void> {
  if (hook) await hook(point);
}

/** An error exactly like the kernel's refusal of a command (EINVAL by default). */
export function kernelRefusal(command = 'TABLE_LOAD', device?: string, code: keyof typeof os.constants.errno = 'EINVAL'): DmError {
  return new DmError({ errno: os.constants.errno[code], command, device, detail: 'injected fault' });
}
