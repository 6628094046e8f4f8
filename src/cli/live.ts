// The live operations of src/ops: replace, divert/merge/discard, snapshot create/remove/rollback,
// describe. Each says in one line what it did; --json gives the shapes in docs/cli.md.
import { Command } from 'commander';
import * as ops from '../ops';
import { globals, tableText } from './args';
import { json, line } from './output';
import { prepareTable } from './table-input';

export function registerLiveVerbs(program: Command): void {
  program
    .command('replace')
    .description('swap the live table of a device atomically (load, suspend, resume); the table as for create')
    .argument('<name>', 'device name')
    .argument('[table_file]', 'file holding the new table')
    .option('--table <text>', 'the new table')
    .option('--table-file <file>', "read the new table from this file ('-': stdin)")
    .option('-r, --readonly', 'load the new table read-only')
    .option('--noflush', 'keep queued I/O across the suspend instead of flushing it')
    .option('--nolockfs', 'do not freeze a mounted filesystem during the swap')
    .option('--no-checks', 'send the table without checking it first')
    .action(async (name: string, file: string | undefined, o: { table?: string; tableFile?: string; readonly?: boolean; noflush?: boolean; nolockfs?: boolean; checks?: boolean }, cmd: Command) => {
      const t = prepareTable(await tableText(o, file), o.checks !== false);
      const r = await ops.replace(name, t.raw, { readOnly: !!o.readonly, noflush: !!o.noflush, skipLockfs: !!o.nolockfs });
      if (globals(cmd).json) return json({ name, freezeMs: r.freezeMs, order: r.order });
      line(`${name}: new table live; I/O paused ${r.freezeMs.toFixed(1)} ms`);
    });
}
