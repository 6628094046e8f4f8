// dmctl lvm list|activate|deactivate: LVM2 volume groups read from their PVs and mapped with the
// names, uuids and tables `vgchange -ay` gives them, without lvm2 and without writing a PV.
import { Command } from 'commander';
import type * as Lvm from '../lvm';
import { globals } from './args';
import { CliError, Exit } from './exit';
import { lvm } from './lazy';
import { lockMs, lockOption, type LockOpt } from './lock-option';
import { json, line, printTable, size } from './output';

type Sel = LockOpt & { device?: string[] };

const selection = (lvs: string[], o: Sel): Lvm.LvmSelection => {
  const ms = lockMs(o);
  return { ...(lvs.length ? { lvs } : {}), ...(o.device?.length ? { devices: o.device } : {}), ...(ms !== undefined ? { lockTimeoutMs: ms } : {}) };
};

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function notes(list: readonly Lvm.LvmError[]): void {
  for (const n of list) process.stderr.write(`dmctl: note: ${n.message}\n`);
}

function outcomeJson(o: Lvm.LvOutcome): unknown {
  return o.result === 'refused' ? { ...o, error: { code: o.error.code, message: o.error.message } } : o;
}

export function registerLvmVerbs(program: Command): void {
  const group = program.command('lvm').description("LVM2 volume groups read from their PVs and mapped as vgchange makes them, without lvm2: list, activate, deactivate");
  group
    .command('list')
    .description('the VGs and LVs on the block devices (every one, or those given): type, size, active device')
    .argument('[device...]', 'block devices to read (default: all)')
    .action(async (devices: string[], _o: unknown, cmd: Command) => {
      const l = lvm().listVolumeGroups(devices);
      // Devices named on the command line must be readable; in a machine scan, what is not is a note.
      if (!devices.length) notes(l.notes);
      if (globals(cmd).json) json(l.vgs);
      else if (!l.vgs.length) line('no volume group found');
      else {
        const rows = l.vgs.flatMap((vg) => vg.lvs.map((lv) => [vg.name, lv.visible ? lv.name : `[${lv.name}]`, lv.type, size(lv.sectors * 512n), lv.active ? `/dev/mapper/${lv.active}` : '-']));
        printTable(['VG', 'LV', 'TYPE', 'SIZE', 'ACTIVE'], rows);
      }
      for (const vg of l.vgs) {
        for (const pv of vg.pvs.filter((p) => p.missing)) process.stderr.write(`dmctl: note: VG ${vg.name}: PV ${pv.uuid} is missing; the LVs on it cannot be activated\n`);
      }
      if (devices.length && l.notes.length) throw new CliError(l.notes.map((n) => n.message).join('; '), Exit.TABLE);
    });
  lockOption(group
    .command('activate'))
    .description('make the devices of a VG\'s linear and striped LVs (vgchange -ay); LVs of other types or on a missing PV are refused by name')
    .argument('<vg>', 'the volume group')
    .argument('[lv...]', 'only these LVs')
    .option('-d, --device <path>', 'look for the PVs on this block device only (repeatable)', collect)
    .action(async (vg: string, lvs: string[], o: Sel, cmd: Command) => {
      const r = await lvm().activateVolumeGroup(vg, selection(lvs, o));
      notes(r.notes);
      const refused = r.lvs.filter((x): x is Extract<Lvm.LvOutcome, { result: 'refused' }> => x.result === 'refused');
      if (globals(cmd).json) json({ vg: r.vg.name, uuid: r.vg.uuid, lvs: r.lvs.map(outcomeJson) });
      else {
        for (const x of r.lvs) {
          if (x.result === 'created' || x.result === 'kept') line(`${x.lv}: ${x.result === 'created' ? 'active' : 'already active'} as /dev/mapper/${x.name}${x.readOnly ? ' (read-only)' : ''}`);
        }
      }
      if (refused.length) {
        throw new CliError(refused.map((x) => `refused ${x.lv}: ${x.error.message}`).join('; '), Exit.TABLE);
      }
    });
  lockOption(group
    .command('deactivate'))
    .description('remove the devices of a VG\'s LVs (vgchange -an); refused while any is open or mounted')
    .argument('<vg>', 'the volume group')
    .argument('[lv...]', 'only these LVs')
    .option('-d, --device <path>', 'look for the PVs on this block device only (repeatable)', collect)
    .action(async (vg: string, lvs: string[], o: Sel, cmd: Command) => {
      const r = await lvm().deactivateVolumeGroup(vg, selection(lvs, o));
      if (globals(cmd).json) return json(r);
      line(r.removed.length ? `removed ${r.removed.join(', ')}` : `no active LV of ${vg}`);
    });
}
