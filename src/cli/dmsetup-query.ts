// dmsetup's reporting verbs: version, targets, ls, info, table, status, deps. Human output is
// dmsetup's own lines, byte for byte; --json gives the shapes in docs/cli.md.
import fs from 'node:fs';
import { Command } from 'commander';
import * as dm from '../dm';
import type { DeviceInfo, DeviceRef, TargetLine } from '../dm';
import { parseStatus } from '../table';
import { deviceRef, globals, withDeviceSelect, type DeviceSelect } from './args';
import { hideKeys, json, line, targetLine, toJson, write } from './output';
import { renderTree, tree } from './tree';

const pkg = require('../../package.json') as { name: string; version: string };

/** Each device a verb reports on: the one named, or every device (dmsetup's "no argument" form). */
async function targetsOf(name: string | undefined, o: DeviceSelect): Promise<{ refs: DeviceRef[]; multiple: boolean }> {
  const ref = deviceRef(name, o);
  if (ref !== undefined) return { refs: [ref], multiple: false };
  return { refs: (await dm.listDevices()).map((d) => d.name), multiple: true };
}

export function registerQueryVerbs(program: Command): void {
  program
    .command('version')
    .description("the library's and the kernel driver's versions")
    .action(async (_o, cmd: Command) => {
      const v = await dm.version();
      const driver = `${v.major}.${v.minor}.${v.patch}`;
      if (globals(cmd).json) return json({ library: { name: pkg.name, version: pkg.version }, driver: { ...v, version: driver } });
      line(`Library version:   ${pkg.name} ${pkg.version}`);
      line(`Driver version:    ${driver}`);
    });

  program
    .command('targets')
    .description('target types the kernel has loaded, with their versions')
    .action(async (_o, cmd: Command) => {
      const list = await dm.listVersions();
      if (globals(cmd).json) return json(list.map((t) => ({ name: t.name, version: t.version.join('.') })));
      for (const t of list) line(`${t.name.padEnd(16)} v${t.version.join('.')}`);
    });

  program
    .command('ls')
    .description('list devices: name and (major:minor)')
    .option('--target <type>', 'only devices with a target of this type')
    .option('--tree', 'show devices as a tree of what each one is stacked on')
    .action(async (o: { target?: string; tree?: boolean }, cmd: Command) => {
      const asJson = globals(cmd).json;
      if (o.tree) {
        const roots = await tree();
        if (asJson) return json(roots);
        if (!roots.length) return line('No devices found');
        return void write(renderTree(roots));
      }
      let devices = await dm.listDevices();
      if (o.target) {
        const keep: typeof devices = [];
        for (const d of devices) if ((await dm.table(d.name)).some((t) => t.type === o.target)) keep.push(d);
        devices = keep;
      }
      if (asJson) return json(devices.map((d) => ({ name: d.name, major: d.major, minor: d.minor, uuid: d.uuid ?? null, eventNr: d.eventNr ?? null })));
      if (!devices.length && !o.target) return line('No devices found');
      // dmsetup prints "(M, m)" when filtering by target, "(M:m)" otherwise.
      for (const d of devices) line(o.target ? `${d.name}\t(${d.major}, ${d.minor})` : `${d.name}\t(${d.major}:${d.minor})`);
    });

  withDeviceSelect(program.command('info'))
    .description('state of one device, or of every device')
    .argument('[name]', 'device name')
    .action(async (name: string | undefined, o: DeviceSelect, cmd: Command) => {
      const { refs } = await targetsOf(name, o);
      if (!refs.length && !globals(cmd).json) return line('No devices found');
      const infos = await Promise.all(refs.map((r) => dm.info(r)));
      if (globals(cmd).json) return json(infos.map(infoJson));
      for (const i of infos) write(infoLong(i));
    });

  for (const verb of ['table', 'status'] as const) {
    const c = withDeviceSelect(program.command(verb))
      .description(verb === 'table' ? 'the table as the kernel holds it (crypt keys hidden)' : "each target's status line")
      .argument('[name]', 'device name (default: every device)')
      .option('--inactive', 'the inactive (loaded, not yet resumed) table')
      .option('--target <type>', 'only targets of this type');
    if (verb === 'table') c.option('--showkeys', 'show crypt and integrity keys');
    else c.option('--noflush', 'do not let targets flush before reporting');
    c.action(async (name: string | undefined, o: DeviceSelect & { inactive?: boolean; target?: string; showkeys?: boolean; noflush?: boolean }, cmd: Command) => {
      const { refs, multiple } = await targetsOf(name, o);
      if (!refs.length && !globals(cmd).json) return line('No devices found');
      const opts = { inactive: o.inactive, noflush: o.noflush, secure: verb === 'table' };
      const out: Array<{ name: string; targets: TargetLine[] }> = [];
      for (const r of refs) {
        const lines = verb === 'table' ? await dm.table(r, opts) : await dm.status(r, opts);
        const shown = lines
          .filter((t) => !o.target || t.type === o.target)
          .map((t) => (verb === 'table' && !o.showkeys ? { ...t, params: hideKeys(t.type, t.params) } : t));
        out.push({ name: typeof r === 'string' ? r : (await dm.info(r)).name, targets: shown });
        // A device without a table: dmsetup prints an empty line (after "name: " when listing
        // every device), unless --target filters, which no target of it matches.
        if (!globals(cmd).json) printTargets(out[out.length - 1], multiple, lines.length === 0 && !o.target);
      }
      if (globals(cmd).json) json(out.map((d) => ({ name: d.name, targets: d.targets.map((t) => (verb === 'status' ? statusJson(t) : t)) })));
    });
  }

  withDeviceSelect(program.command('deps'))
    .description('the devices a table uses, as (major, minor)')
    .argument('[name]', 'device name (default: every device)')
    .option('--inactive', 'of the inactive table')
    .action(async (name: string | undefined, o: DeviceSelect & { inactive?: boolean }, cmd: Command) => {
      const { refs, multiple } = await targetsOf(name, o);
      if (!refs.length && !globals(cmd).json) return line('No devices found');
      const out = [];
      for (const r of refs) {
        const deps = await dm.deps(r, { inactive: o.inactive });
        const devName = typeof r === 'string' ? r : (await dm.info(r)).name;
        out.push({ name: devName, deps: deps.map((d) => ({ major: d.major, minor: d.minor })) });
        if (!globals(cmd).json)
          line(`${multiple ? `${devName}: ` : ''}${deps.length} dependencies\t:${deps.map((d) => ` (${d.major}, ${d.minor})`).join('')}`);
      }
      if (globals(cmd).json) json(out);
    });
}

function printTargets(d: { name: string; targets: TargetLine[] }, multiple: boolean, emptyLine: boolean): void {
  const prefix = multiple ? `${d.name}: ` : '';
  if (emptyLine) return line(prefix);
  for (const t of d.targets) line(prefix + targetLine(t));
}

function statusJson(t: TargetLine) {
  let parsed: unknown = null;
  try {
    parsed = parseStatus(t.type, t.params);
    // Only keep what survives JSON (parsers return plain data).
    JSON.parse(toJson(parsed));
  } catch {
    parsed = null;
  }
  return { start: t.start, length: t.length, type: t.type, params: t.params, parsed };
}

/** Read ahead in sectors, as dmsetup shows it (sysfs keeps KiB). */
function readAhead(i: DeviceInfo): number | undefined {
  for (const p of [`/sys/dev/block/${i.major}:${i.minor}/bdi/read_ahead_kb`, `/sys/dev/block/${i.major}:${i.minor}/queue/read_ahead_kb`]) {
    try {
      return Number(fs.readFileSync(p, 'utf8').trim()) * 2;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function infoJson(i: DeviceInfo) {
  return {
    name: i.name,
    uuid: i.uuid,
    major: i.major,
    minor: i.minor,
    state: i.flags.suspended ? 'SUSPENDED' : 'ACTIVE',
    readOnly: i.flags.readOnly,
    readAhead: readAhead(i) ?? null,
    tables: { live: i.flags.activePresent, inactive: i.flags.inactivePresent },
    openCount: i.openCount,
    eventNr: i.eventNr,
    targetCount: i.targetCount,
    deferredRemove: i.flags.deferredRemove,
  };
}

/** dmsetup info's long form, with its trailing empty line. */
export function infoLong(i: DeviceInfo): string {
  const f = i.flags;
  const out = [`Name:              ${i.name}`, `State:             ${f.suspended ? 'SUSPENDED' : 'ACTIVE'}${f.readOnly ? ' (READ-ONLY)' : ''}`];
  const ra = readAhead(i);
  if (ra !== undefined) out.push(`Read Ahead:        ${ra}`);
  const tables = [f.activePresent ? 'LIVE' : '', f.activePresent && f.inactivePresent ? ' & ' : '', f.inactivePresent ? 'INACTIVE' : ''].join('');
  out.push(`Tables present:    ${tables || 'None'}`);
  out.push(`Open count:        ${i.openCount}`);
  out.push(`Event number:      ${i.eventNr}`);
  out.push(`Major, minor:      ${i.major}, ${i.minor}`);
  out.push(`Number of targets: ${i.targetCount}`);
  if (i.uuid) out.push(`UUID: ${i.uuid}`);
  return `${out.join('\n')}\n\n`;
}
