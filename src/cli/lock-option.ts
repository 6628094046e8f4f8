// --lock-timeout, shared by the verbs that wait for another operation's lock (live operations,
// lvm activate and deactivate); importable without loading the operations.
import type { Command } from 'commander';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../ops/defaults';
import { usage } from './exit';

export type LockOpt = { lockTimeout?: number };

/** --lock-timeout SECONDS: how long to wait while another operation holds the device (exit 5 after). */
export function lockOption(cmd: Command): Command {
  return cmd.option('--lock-timeout <seconds>', `how long to wait for another operation on the device (default ${DEFAULT_LOCK_TIMEOUT_MS / 1000}; 0: do not wait)`, (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw usage(`--lock-timeout must be a number of seconds >= 0, got ${JSON.stringify(v)}`);
    return n;
  });
}

export const lockMs = (o: LockOpt): number | undefined => (o.lockTimeout === undefined ? undefined : Math.round(o.lockTimeout * 1000));
