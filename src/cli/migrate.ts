// dmctl migrate: move a live device to another disk while the kernel copies; follow a migration
// under way, or abort it. Ctrl-C while following cancels: the device goes back on its own disk.
import type { Command } from 'commander';
import * as dm from '../dm';
import type * as Ops from '../ops';
import { formatDevNum } from '../table';
import { globals } from './args';
import { CliError, Exit } from './exit';
import { ops } from './lazy';
import { lockMs, lockOption, type LockOpt } from './lock-option';
import { json, line } from './output';
import { Progress } from './progress';
import { onInterrupt } from './signals';

type MigrateOpts = LockOpt & { to?: string; wait?: boolean; abort?: boolean; quiet?: boolean };

/** The confirmation of what stays once a migration is undone (--abort, Ctrl-C): the disks NAME is
 *  on again, by number, read from its live table ("back on its own disk" alone left the user to
 *  guess which disk that is). */
function staysOnOld(name: string, what: 'aborted' | 'cancelled'): string {
  const disks = dm.depsSync(name).map(formatDevNum);
  return `${name}: migration ${what}; ${name} stays on its old disk${disks.length > 1 ? 's' : ''} ${disks.join(', ')}, every write kept; the new disk is no longer used`;
}

export function registerMigrateVerbs(program: Command): void {
  lockOption(program.command('migrate'))
    .description('move a live device\'s data to another block device (the kernel\'s mirror copies); without --to, follow the migration under way')
    .argument('<name>', 'device name')
    .option('--to <dev>', 'the block device to move to (at least as large; not in use)')
    .option('--no-wait', 'return once the kernel copies; \'dmctl migrate NAME\' follows and finishes it')
    .option('--abort', 'cancel the migration under way: NAME goes back on its own disk with every write')
    .option('-q, --quiet', 'no progress')
    .action(async (name: string, o: MigrateOpts, cmd: Command) => {
      if (o.abort) {
        const r = await ops().migrate(name, { abort: true, lockTimeoutMs: lockMs(o) });
        if (globals(cmd).json) return json(r);
        return line(staysOnOld(name, 'aborted'));
      }
      const ac = new AbortController();
      const off = onInterrupt(() => {
        ac.abort();
        // Past the finish's point of no return the move completes: the last line says which happened.
        process.stderr.write(`dmctl: cancelling: ${name} goes back on its old disk, every write kept, unless its switch to the new disk has begun (Ctrl-C again to leave it copying)\n`);
      });
      const bar = o.quiet || o.wait === false ? undefined : new Progress({ label: 'migrate' });
      let r: Ops.MigrateResult;
      try {
        r = await ops().migrate(name, { to: o.to, wait: o.wait, lockTimeoutMs: lockMs(o), signal: ac.signal, onProgress: (p) => bar?.update(p) });
      } catch (err) {
        bar?.end();
        if (!ac.signal.aborted || (err as Error).name === 'DeviceLockedError') throw err;
        await ops().migrate(name, { abort: true });
        throw new CliError(staysOnOld(name, 'cancelled'), Exit.INTERRUPTED);
      } finally {
        bar?.end();
        off();
      }
      if (globals(cmd).json) return json(r);
      if (r.state === 'migrating') return line(`${name}: the kernel copies to ${r.to}; 'dmctl migrate ${name}' follows and finishes it, '--abort' cancels it`);
      line(`${name}: moved to ${r.to}; the old disk is no longer used (I/O paused ${r.freezeMs.map((f) => `${f.toFixed(1)} ms`).join(' and ')})`);
    });
}
