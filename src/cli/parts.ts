// dmctl parts list|add|remove: the partitions of a disk or a disk image as device-mapper devices,
// with kpartx's names, uuids and tables; `list` prints exactly what `kpartx -l` prints.
import { Command } from 'commander';
import type * as Parts from '../parts';
import { parts } from './lazy';
import { globals } from './args';
import { json, line, write } from './output';

type PartsOpts = { delimiter?: string; gpt?: boolean };

function options(cmd: Command): Command {
  return cmd
    .argument('<device|file>', 'a block device, or a disk image (attached on a loop device as kpartx does)')
    .option('-p, --delimiter <text>', "text between the disk's name and the partition number (default: 'p' after a digit)")
    .option('-g, --gpt', 'use a valid GPT even when the MBR is not protective');
}

const partsOpts = (o: PartsOpts): Parts.PartsOptions => ({ ...(o.delimiter !== undefined ? { delimiter: o.delimiter } : {}), ...(o.gpt ? { forceGpt: true } : {}) });

/** The JSON of a listing: the disk, the table's partitions and the device each becomes. */
function listingJson(l: Parts.PartitionListing): unknown {
  return {
    disk: l.disk,
    scheme: l.table.scheme,
    notes: l.table.notes,
    partitions: l.table.partitions.map((p) => ({ ...p, device: l.mappings.find((m) => m.number === p.number)?.name })),
  };
}

export function registerPartsVerbs(program: Command): void {
  const group = program.command('parts').description('partitions of a disk or disk image as devices, as kpartx makes them: list, add, remove');
  options(group.command('list'))
    .description('list the partitions and the devices they would become (kpartx -l)')
    .action(async (target: string, o: PartsOpts, cmd: Command) => {
      const l = await parts().listPartitions(target, partsOpts(o));
      if (globals(cmd).json) return json(listingJson(l));
      write(l.text);
      for (const n of l.table.notes) process.stderr.write(`dmctl: note: ${n}\n`);
    });
  options(group.command('add'))
    .description('make a device for every partition (kpartx -a); devices already there are kept')
    .action(async (target: string, o: PartsOpts, cmd: Command) => {
      const r = await parts().addPartitions(target, partsOpts(o));
      if (globals(cmd).json) return json({ ...(listingJson(r) as object), created: r.created });
      for (const m of r.mappings) line(`${m.name}: ${r.created.includes(m.name) ? 'made' : 'already there'} (${m.target.length} sectors at ${m.target.params})`);
    });
  group
    .command('remove')
    .description('remove the partition devices (kpartx -d); refused while any is open or mounted')
    .argument('<device|file>', 'the block device or disk image they were made from')
    .action(async (target: string, _o: unknown, cmd: Command) => {
      const r = await parts().removePartitions(target);
      if (globals(cmd).json) return json(r);
      line(r.removed.length ? `removed ${r.removed.join(', ')}` : `no partition devices of ${target}`);
    });
}
