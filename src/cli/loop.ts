// dmctl loop attach / detach / ls.
import { Command } from 'commander';
import { globals, sizeArg } from './args';
import { loop } from './lazy';
import { json, line, printTable, size } from './output';

async function sizeOf(path: string): Promise<bigint | null> {
  return loop().blockDeviceSize(path).catch(() => null);
}

export function registerLoopVerbs(program: Command): void {
  const group = program.command('loop').description('loop devices: attach a file as a block device, detach, list');

  group
    .command('attach')
    .description('attach FILE to a free loop device and print its path (the file is created or extended to --size)')
    .argument('<file>', 'backing file')
    .option('--size <size>', 'make the file at least this big (e.g. 64M, 1G); created sparse if missing', sizeArg('--size'))
    .option('-r, --read-only', 'the device is read-only')
    .option('--offset <size>', 'start this far into the file', sizeArg('--offset'))
    .option('--sizelimit <size>', 'cover at most this much of the file', sizeArg('--sizelimit'))
    .option('--direct-io', 'bypass the page cache of the backing file')
    .action(async (file: string, o: { size?: bigint; readOnly?: boolean; offset?: bigint; sizelimit?: bigint; directIo?: boolean }, cmd: Command) => {
      const dev = await loop().attach(file, {
        size: o.size,
        readOnly: !!o.readOnly,
        offset: o.offset,
        sizeLimit: o.sizelimit,
        directIo: !!o.directIo,
      });
      if (!globals(cmd).json) return line(dev.path);
      json({ path: dev.path, number: dev.number, major: dev.major, minor: dev.minor, file: dev.file, readOnly: !!o.readOnly, size: await sizeOf(dev.path) });
    });

  group
    .command('detach')
    .description('detach loop devices (lazily, if something still holds them)')
    .argument('<devices...>', '/dev/loopN paths or numbers')
    .action(async (devices: string[], _o: unknown, cmd: Command) => {
      const paths = devices.map((d) => (/^\d+$/.test(d) ? `/dev/loop${d}` : d));
      for (const p of paths) await loop().detach(p);
      if (globals(cmd).json) json({ detached: paths });
    });

  group
    .command('ls')
    .description('bound loop devices')
    .action(async (_o: unknown, cmd: Command) => {
      const list = await loop().list();
      const sizes = await Promise.all(list.map((d) => sizeOf(d.path)));
      if (globals(cmd).json) {
        return json(list.map((d, i) => ({
          path: d.path, number: d.number, major: d.major, minor: d.minor, file: d.file, deleted: d.deleted,
          size: sizes[i], offset: d.offset, sizeLimit: d.sizeLimit, readOnly: d.readOnly, autoclear: d.autoclear,
          partscan: d.partscan, directIo: d.directIo, blockSize: d.blockSize,
        })));
      }
      if (!list.length) return line('No loop devices attached');
      printTable(
        ['DEVICE', 'SIZE', 'RO', 'OFFSET', 'FILE'],
        list.map((d, i) => [d.path, sizes[i] === null ? '?' : size(sizes[i] as bigint), d.readOnly ? 'ro' : 'rw', String(d.offset), d.deleted ? `${d.file} (deleted)` : d.file]),
      );
    });
}
