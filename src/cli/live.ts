// The live operations of src/ops: replace, divert/merge/discard, snapshot create/remove/rollback,
// describe. Each says in one line what it did; --json gives the shapes in docs/cli.md.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import type * as Ops from '../ops';
import { backup, lvm, ops } from './lazy';
import { lockMs, lockOption, type LockOpt } from './lock-option';
import { globals, intArg, sizeArg, tableText } from './args';
import { CliError, Exit, usage } from './exit';
import { json, line } from './output';
import { followMerge } from './merge-follow';
import { prepareTable } from './table-input';
import { guarded } from './signals';
import { describeText } from './describe-text';

type CowOpts = { cow: string; size?: bigint; chunk?: number; persistent?: 'P' | 'PO' };

/** --cow names a block device, or a new file of --size (created, and deleted when the COW ends). */
function cowSpec(o: CowOpts): Ops.CowSpec {
  if (o.size !== undefined) return { file: o.cow, size: o.size };
  let st: fs.Stats;
  try {
    st = fs.statSync(o.cow);
  } catch {
    throw usage(`--cow ${o.cow} does not exist: give --size to create it as a new file`);
  }
  if (st.isBlockDevice()) return o.cow;
  throw usage(`--cow ${o.cow} is not a block device: to use a file, name a new one and give --size (dmctl creates it and deletes it when done)`);
}

function cowOptions(cmd: Command): Command {
  return lockOption(cmd)
    .requiredOption('--cow <dev|file>', 'where changed chunks go: a block device, or a file (made a loop device)')
    .option('--size <size>', 'create the COW as a new file of this size, e.g. 256M', sizeArg('--size'))
    .addOption(new Option('--chunk <sectors>', 'chunk size in 512-byte sectors (a power of two)').argParser(intArg('--chunk', 1 << 21)))
    .addOption(new Option('--persistent <P|PO>', 'COW store kind').choices(['P', 'PO']));
}


function waitOptions(cmd: Command): Command {
  return lockOption(cmd)
    .option('--no-wait', 'start it and return; the kernel copies in the background')
    .option('-q, --quiet', 'no progress output');
}

export function registerLiveVerbs(program: Command): void {
  lockOption(program
    .command('replace'))
    .description('swap the live table of a device atomically (load, suspend, resume); the table as for create')
    .argument('<name>', 'device name')
    .argument('[table_file]', 'file holding the new table')
    .option('--table <text>', 'the new table')
    .option('--table-file <file>', "read the new table from this file ('-': stdin)")
    .option('-r, --readonly', 'load the new table read-only')
    .option('--noflush', 'keep queued I/O across the suspend instead of flushing it')
    .option('--nolockfs', 'do not freeze a mounted filesystem during the swap')
    .option('--no-checks', 'send the table without checking it first')
    .action(async (name: string, file: string | undefined, o: LockOpt & { table?: string; tableFile?: string; readonly?: boolean; noflush?: boolean; nolockfs?: boolean; checks?: boolean }, cmd: Command) => {
      const t = prepareTable(await tableText(o, file), o.checks !== false);
      const r = await guarded('replace', (signal) => ops().replace(name, t.raw, { readOnly: !!o.readonly, noflush: !!o.noflush, skipLockfs: !!o.nolockfs, lockTimeoutMs: lockMs(o), signal }));
      if (globals(cmd).json) return json({ name, freezeMs: r.freezeMs, order: r.order });
      line(`${name}: new table live; I/O paused ${r.freezeMs.toFixed(1)} ms`);
    });

  cowOptions(program.command('divert'))
    .description('freeze the device\'s current contents in a hidden base and send new writes to a COW, live')
    .argument('<name>', 'device name')
    .option('--noflush', 'keep queued I/O across the switch instead of flushing it')
    .option('--nolockfs', 'do not freeze a mounted filesystem at the switch')
    .action(async (name: string, o: CowOpts & LockOpt & { noflush?: boolean; nolockfs?: boolean }, cmd: Command) => {
      const spec = cowSpec(o);
      const r = await guarded('divert', (signal) => ops().divert(name, {
        cow: spec, chunkSectors: o.chunk, persistent: o.persistent, noflush: !!o.noflush, skipLockfs: !!o.nolockfs, lockTimeoutMs: lockMs(o), signal,
      }));
      if (globals(cmd).json) return json(r);
      line(`${name}: diverted; the frozen image is ${r.base.path} (${r.base.dev}), new writes go to ${r.cow.device}${r.cow.file ? ` (${r.cow.file})` : ''}; I/O paused ${r.freezeMs.toFixed(1)} ms`);
    });

  waitOptions(program.command('merge'))
    .description('merge a diverted device\'s writes back into its base and return it to its original table (with progress)')
    .argument('<name>', 'device name')
    .action(async (name: string, o: LockOpt & { wait?: boolean; quiet?: boolean }, cmd: Command) => {
      const r = await followMerge(name, 'merge', o, (x) => ops().merge(name, { ...x, lockTimeoutMs: lockMs(o) }));
      if (globals(cmd).json) return json(r);
      if (r.mergedBy) return line(`${name}: merged by ${r.mergedBy.operation} of process ${r.mergedBy.pid} (at ${r.mergedBy.at}) while this one followed it; back on its original table`);
      line(r.state === 'done' ? `${name}: merged; back on its original table` : `${name}: merging in the kernel; 'dmctl merge ${name}' follows and finishes it`);
    });

  lockOption(program
    .command('discard'))
    .description('return a diverted device to its original table, dropping every write since the divert')
    .argument('<name>', 'device name')
    .option('-f, --force', 'even while it is mounted or open (its filesystem sees its data change)')
    .action(async (name: string, o: LockOpt & { force?: boolean }, cmd: Command) => {
      await guarded('discard', (signal) => ops().discard(name, { force: !!o.force, lockTimeoutMs: lockMs(o), signal }));
      if (globals(cmd).json) return json({ name, state: 'plain' });
      line(`${name}: writes since the divert dropped; back on its original table`);
    });

  const snap = program.command('snapshot').description('point-in-time snapshots of a live device: create, remove, rollback');
  cowOptions(snap.command('create'))
    .description('a snapshot NAME of ORIGIN as it is now; ORIGIN stays live')
    .argument('<origin>', 'the live device')
    .argument('<name>', 'name of the new snapshot device')
    .action(async (origin: string, name: string, o: CowOpts & LockOpt, cmd: Command) => {
      const spec = cowSpec(o);
      const r = await guarded('snapshot', (signal) => ops().createSnapshot(origin, name, { cow: spec, chunkSectors: o.chunk, persistent: o.persistent, lockTimeoutMs: lockMs(o), signal }));
      if (globals(cmd).json) return json(r);
      line(`${name}: snapshot of ${origin} at ${r.path}; changes kept in ${r.cow.device}${r.cow.file ? ` (${r.cow.file})` : ''}`);
    });
  lockOption(snap
    .command('remove'))
    .description('remove a snapshot (the origin goes back to its own table when it was the last)')
    .argument('<name>', 'snapshot name')
    .action(async (name: string, o: LockOpt, cmd: Command) => {
      await guarded('snapshot removal', (signal) => ops().removeSnapshot(name, { lockTimeoutMs: lockMs(o), signal }));
      if (globals(cmd).json) return json({ name, removed: true });
    });
  waitOptions(snap.command('rollback'))
    .description('roll the origin back to the snapshot (the snapshot is merged into it and goes away)')
    .argument('<name>', 'snapshot name')
    .option('-f, --force', 'even while the origin is mounted or open')
    .action(async (name: string, o: LockOpt & { wait?: boolean; quiet?: boolean; force?: boolean }, cmd: Command) => {
      const r = await followMerge(name, 'rollback', o, (x) => ops().rollback(name, { ...x, force: !!o.force, lockTimeoutMs: lockMs(o) }));
      if (globals(cmd).json) return json(r);
      line(r.state === 'done' ? `${r.name}: rolled back to ${name}` : `${r.name}: rolling back in the kernel; 'dmctl merge ${r.name}' follows and finishes it`);
    });

  lockOption(program
    .command('recover'))
    .description('after a reboot or a killed dmctl: rebuild, finish or undo every recorded arrangement (diverted and merging devices), remove LVM devices a killed lvm activate left half-made, and what a killed backup left (its snapshot, its partial image); changes nothing the second time')
    .option('--wait', 'wait for a merge it resumes or finds running, and finish it')
    .action(async (o: LockOpt & { wait?: boolean }, cmd: Command) => {
      const reports: { device: string; state: string; found: string; did: string[]; error?: string }[] = [
        ...(await ops().recover({ wait: !!o.wait, lockTimeoutMs: lockMs(o) })),
        ...(await lvm().recoverActivations({ lockTimeoutMs: lockMs(o) })),
        ...(await backup().recoverBackups()),
      ];
      if (globals(cmd).json) json(reports);
      else if (!reports.length) line('nothing to recover');
      else for (const r of reports) line(`${r.device}: ${r.state}${r.error ? ` (${r.error})` : ''}; found ${r.found}${r.did.length ? `; ${r.did.join('; ')}` : ''}`);
      const refused = reports.filter((r) => r.state === 'refused');
      if (refused.length) throw new CliError(`${refused.map((r) => r.device).join(', ')} could not be recovered; nothing of ${refused.length === 1 ? 'it' : 'them'} was changed`, Exit.OPERATION);
    });

  program
    .command('describe')
    .description('what a device is to devmapper: plain, diverted, merging, origin or snapshot, with its COW fill level')
    .argument('<name>', 'device name')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const d = await ops().describe(name); // keys already zeroed by ops
      if (globals(cmd).json) return json(d);
      process.stdout.write(describeText(d));
    });
}
