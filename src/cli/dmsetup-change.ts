// dmsetup's verbs that change things: create, remove, remove_all, rename, suspend, resume,
// load/reload, clear, wait, message, mknodes, setgeometry. Silent on success, like dmsetup;
// --json reports what became of the device.
import { Command, Option } from 'commander';
import * as dm from '../dm';
import type { DeviceRef } from '../dm';
import { addressOf } from '../dm/device';
import { globals, intArg, note, parseIntArg, requireRef, tableText, withDeviceSelect, type DeviceSelect } from './args';
import { CliError, Exit, usage } from './exit';
import { infoJson } from './dmsetup-query';
import { json, write } from './output';
import { onInterrupt } from './signals';
import { prepareTable } from './table-input';
import { errorTable, syncNodes } from './nodes';

type TableOpts = { table?: string; tableFile?: string; readonly?: boolean; checks?: boolean };

function tableOptions(cmd: Command): Command {
  return cmd
    .option('--table <text>', 'the table (lines separated by newlines)')
    .option('--table-file <file>', "read the table from this file ('-': stdin)")
    .option('-r, --readonly', 'the table maps the device read-only')
    .option('--no-checks', "send the table without checking it first (leave it all to the kernel)");
}

async function loadFrom(ref: DeviceRef, o: TableOpts, fileArg?: string) {
  const t = prepareTable(await tableText(o, fileArg), o.checks !== false);
  return dm.loadRawTable(ref, t.raw, { readOnly: !!o.readonly, secure: t.secure });
}

const report = async (cmd: Command, ref: DeviceRef) => {
  if (globals(cmd).json) json(infoJson(await dm.info(ref)));
};

export function registerChangeVerbs(program: Command): void {
  tableOptions(program.command('create'))
    .description('create a device and load its table (from --table, --table-file, a file, or stdin) and resume it')
    .argument('<name>', 'new device name')
    .argument('[table_file]', 'file holding the table')
    .option('-u, --uuid <uuid>', 'the new device\'s uuid')
    .addOption(new Option('-m, --minor <minor>', 'ask for this minor number').argParser(intArg('minor', 0xfffff)))
    .option('-n, --notable', 'create the device without a table (suspended, no I/O)')
    .action(async (name: string, file: string | undefined, o: TableOpts & { uuid?: string; minor?: number; notable?: boolean }, cmd: Command) => {
      // Read and check the table before the device exists: a bad table then leaves nothing behind.
      const t = o.notable ? undefined : prepareTable(await tableText(o, file), o.checks !== false);
      await dm.create(name, { uuid: o.uuid, minor: o.minor, readOnly: !!o.readonly });
      if (t) {
        try {
          await dm.loadRawTable(name, t.raw, { readOnly: !!o.readonly, secure: t.secure });
          await dm.resume(name);
        } catch (err) {
          await dm.remove(name, { retry: true }).catch(() => undefined);
          throw err;
        }
      }
      await report(cmd, name);
    });

  for (const verb of ['load', 'reload']) {
    tableOptions(withDeviceSelect(program.command(verb)))
      .description('load a table into the inactive slot (resume makes it live)')
      .argument('[name]', 'device name')
      .argument('[table_file]', 'file holding the table')
      .action(async (name: string | undefined, file: string | undefined, o: TableOpts & DeviceSelect, cmd: Command) => {
        const ref = requireRef(name, o);
        await loadFrom(ref, o, file);
        await report(cmd, ref);
      });
  }

  program
    .command('remove')
    .description('remove devices')
    .argument('<names...>', 'device names')
    .option('-f, --force', 'replace the table with one that fails all I/O first, so an open device lets go')
    .option('--retry', 'retry for a few seconds while the device is briefly held (udev, blkid)')
    .option('--deferred', 'if the device is open, remove it when its last user closes it')
    .action(async (names: string[], o: { force?: boolean; retry?: boolean; deferred?: boolean }, cmd: Command) => {
      const out = [];
      for (const name of names) {
        if (o.force) await errorTable(name).catch(() => undefined);
        const r = await dm.remove(name, { retry: !!o.retry, deferred: !!o.deferred });
        out.push({ name, removed: !r.deferred, deferred: r.deferred });
      }
      if (globals(cmd).json) json(out);
    });

  program
    .command('remove_all')
    .description('remove every device that is not open (-f: open ones too, by failing their I/O)')
    .option('-f, --force', 'replace open devices\' tables with error targets and try again')
    .option('--deferred', 'open devices go when their last user closes them')
    .action(async (o: { force?: boolean; deferred?: boolean }, cmd: Command) => {
      const before = (await dm.listDevices()).map((d) => d.name);
      await dm.removeAll({ deferred: !!o.deferred });
      let left = await dm.listDevices();
      if (o.force && left.length) {
        for (const d of left) await errorTable(d.name).catch(() => undefined);
        await dm.removeAll({ deferred: !!o.deferred });
        left = await dm.listDevices();
      }
      await syncNodes();
      const remaining = new Set(left.map((d) => d.name));
      if (globals(cmd).json) json({ removed: before.filter((n) => !remaining.has(n)), remaining: [...remaining] });
      if (remaining.size && o.force) throw new CliError(`Unable to remove ${remaining.size} device(s).`, Exit.BUSY);
    });

  program
    .command('rename')
    .description('rename a device, or give a device without a uuid one (--setuuid)')
    .argument('<name>', 'device name')
    .argument('[new_name]', 'its new name')
    .option('--setuuid <uuid>', 'set this uuid instead of renaming')
    .action(async (name: string, newName: string | undefined, o: { setuuid?: string }, cmd: Command) => {
      if ((newName === undefined) === (o.setuuid === undefined)) throw usage('rename takes a new name, or --setuuid UUID');
      const info = await dm.rename(name, o.setuuid !== undefined ? { uuid: o.setuuid } : { name: newName as string });
      if (globals(cmd).json) json(infoJson(info));
    });

  withDeviceSelect(program.command('suspend'))
    .description('suspend devices: in-flight I/O completes, new I/O waits until resume')
    .argument('[names...]', 'device names')
    .option('--noflush', 'keep queued I/O instead of flushing it')
    .option('--nolockfs', 'do not freeze a mounted filesystem')
    .action(async (names: string[], o: DeviceSelect & { noflush?: boolean; nolockfs?: boolean }, cmd: Command) => {
      const refs = names.length ? names : [requireRef(undefined, o)];
      const out = [];
      for (const r of refs) out.push(infoJson(await dm.suspend(r, { noflush: !!o.noflush, skipLockfs: !!o.nolockfs })));
      if (globals(cmd).json) json(out);
    });

  withDeviceSelect(program.command('resume'))
    .description('resume devices, making a loaded inactive table live')
    .argument('[names...]', 'device names')
    .action(async (names: string[], o: DeviceSelect, cmd: Command) => {
      const refs = names.length ? names : [requireRef(undefined, o)];
      const out = [];
      for (const r of refs) out.push(infoJson(await dm.resume(r)));
      if (globals(cmd).json) json(out);
    });

  withDeviceSelect(program.command('clear'))
    .description('drop the inactive table')
    .argument('[name]', 'device name')
    .action(async (name: string | undefined, o: DeviceSelect, cmd: Command) => {
      const ref = requireRef(name, o);
      await dm.clearTable(ref);
      await report(cmd, ref);
    });

  withDeviceSelect(program.command('wait'))
    .description('wait until the event number is above EVENT_NR (default: the current one)')
    .argument('[name]', 'device name')
    .argument('[event_nr]', 'event number to wait past')
    .option('--noflush', 'do not let targets flush before reporting')
    .action(async (name: string | undefined, eventNr: string | undefined, o: DeviceSelect & { noflush?: boolean }, cmd: Command) => {
      const ref = requireRef(name, o);
      const nr = eventNr === undefined ? undefined : parseIntArg(eventNr, 'event_nr', 0xffffffff);
      const ac = new AbortController();
      const off = onInterrupt(() => ac.abort());
      try {
        const after = nr ?? (await dm.info(ref)).eventNr;
        note(cmd, `waiting for an event after ${after} on ${addressOf(ref).label} (Ctrl-C stops waiting)`);
        const r = await dm.waitEvent(ref, { eventNr: after, signal: ac.signal, noflush: !!o.noflush });
        if (globals(cmd).json) json({ name: r.info.name, eventNr: r.info.eventNr });
      } catch (err) {
        if (ac.signal.aborted) throw new CliError(`stopped waiting for an event on ${addressOf(ref).label}`, Exit.INTERRUPTED);
        throw err;
      } finally {
        off();
      }
    });

  program
    .command('message')
    .description('send a message to the target at SECTOR; print its answer')
    .argument('<name>', 'device name')
    .argument('<sector>', 'a sector of the target the message is for')
    .argument('<message...>', 'the message words')
    .action(async (name: string, sectorText: string, words: string[], _o: unknown, cmd: Command) => {
      const sector = BigInt(parseIntArg(sectorText, 'sector'));
      const response = await dm.targetMessage(name, sector, words.join(' '), { secure: true });
      if (globals(cmd).json) return json({ name, response: response ?? null });
      if (response) write(response.endsWith('\n') ? response : `${response}\n`);
    });

  program
    .command('mknodes')
    .description('make /dev/mapper nodes match the devices (all, or the one named)')
    .argument('[name]', 'device name')
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      const r = await syncNodes(name);
      if (globals(cmd).json) json(r);
    });

  program
    .command('setgeometry')
    .description('set the CHS geometry a PC BIOS would see')
    .argument('<name>', 'device name')
    .argument('<cyl>', 'cylinders')
    .argument('<head>', 'heads')
    .argument('<sect>', 'sectors per track')
    .argument('<start>', 'start sector')
    .action(async (name: string, cyl: string, head: string, sect: string, start: string, _o: unknown, cmd: Command) => {
      const g = {
        cylinders: parseIntArg(cyl, 'cylinders', 65535),
        heads: parseIntArg(head, 'heads', 255),
        sectors: parseIntArg(sect, 'sectors', 255),
        start: parseIntArg(start, 'start'),
      };
      await dm.setGeometry(name, g);
      if (globals(cmd).json) json({ name, geometry: g });
    });
}
