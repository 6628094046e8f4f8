// dmctl monitor: follows every diverted device and snapshot (or the named ones) until SIGTERM or
// Ctrl-C, saying when a COW store crosses a fill threshold and, with --grow, growing file-backed
// stores before they fill. dmctl grow-cow grows one by hand. A line per event; --json a JSON
// object per line.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { ops } from './lazy';
import type { MonitorEvent } from '../ops';
import { formatSize } from '../units';
import { globals, sizeArg } from './args';
import { CliError, Exit, usage } from './exit';
import { json, line, toJson } from './output';
import { onInterrupt } from './signals';
import { lockMs, lockOption, type LockOpt } from './lock-option';

function percentArg(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !(n > 0 && n <= 100)) throw usage(`${what} must be a percentage in (0, 100], got ${JSON.stringify(v)}`);
    return n;
  };
}

function thresholdsArg(v: string): number[] {
  return v.split(',').map((p) => percentArg('--thresholds')(p));
}

/** One line of text for an event, or undefined for the ones said only with --verbose. */
export function eventText(e: MonitorEvent): string | undefined {
  const at = `${e.device}:`;
  switch (e.type) {
    case 'watching':
      return `${at} watching its COW store (${e.state})`;
    case 'unwatched':
      return `${at} no longer watched (its COW store ended or changed)`;
    case 'warning':
      return `${at} COW store ${e.percent.toFixed(1)}% full (past ${e.threshold}%)`;
    case 'grown':
      return `${at} COW store grown from ${formatSize(e.fromBytes)} to ${formatSize(e.toBytes)} in ${e.tookMs} ms, now ${e.percent.toFixed(1)}% full`;
    case 'cannot-grow':
      return `${at} COW store ${e.percent.toFixed(1)}% full and NOT grown: ${e.reason}`;
    case 'invalid':
    case 'overflow':
    case 'merge-failed':
    case 'unknown':
      return `${at} COW store ${e.type.toUpperCase()}: writes to it fail; its snapshot is lost`;
    case 'error':
      return `${at} ${e.error.message}`;
    default:
      return undefined;
  }
}

/** The event as JSON: an error as its message. */
function eventJson(e: MonitorEvent): unknown {
  return e.type === 'error' ? { device: e.device, type: 'error', error: e.error.message } : e;
}

type MonitorOpts = { grow?: boolean; growAt?: number; growBy?: bigint; growMax?: bigint; thresholds?: number[] };

export function registerMonitorVerbs(program: Command): void {
  program
    .command('monitor')
    .description('follow COW stores (every diverted device and snapshot, or the named ones, also ones made later): warn at fill thresholds; with --grow, grow file-backed stores before they fill. Runs until SIGTERM or Ctrl-C')
    .argument('[name...]', 'devices to follow (default: all)')
    .option('--grow', 'grow file-backed COW stores')
    .addOption(new Option('--grow-at <percent>', 'grow when this full (default 80)').argParser(percentArg('--grow-at')))
    .addOption(new Option('--grow-by <size>', 'add this much each time (default: double the store)').argParser(sizeArg('--grow-by')))
    .addOption(new Option('--grow-max <size>', 'never grow a store past this size').argParser(sizeArg('--grow-max')))
    .addOption(new Option('--thresholds <list>', 'fill percentages to warn at, comma-separated (default 50,80,90,95)').argParser(thresholdsArg))
    .action(async (names: string[], o: MonitorOpts, cmd: Command) => {
      const g = globals(cmd);
      if (!o.grow && (o.growAt !== undefined || o.growBy !== undefined || o.growMax !== undefined)) throw usage('--grow-at, --grow-by and --grow-max need --grow');
      const grow = o.grow ? { ...(o.growAt !== undefined ? { at: o.growAt } : {}), ...(o.growBy !== undefined ? { by: o.growBy } : {}), ...(o.growMax !== undefined ? { max: o.growMax } : {}) } : undefined;
      const m = ops().monitor({ ...(names.length ? { names } : {}), ...(grow ? { grow } : {}), ...(o.thresholds ? { thresholds: o.thresholds } : {}) });
      const off = onInterrupt(() => m.stop());
      m.on('event', (e: MonitorEvent) => {
        if (e.type === 'fill' && !g.verbose) return;
        if (g.json) return line(toJson(eventJson(e), 0));
        const text = e.type === 'fill' ? `${e.device}: COW store ${e.percent.toFixed(1)}% full` : eventText(e);
        if (text) line(text);
      });
      if (!g.json) line(`dmctl monitor: following ${names.length ? names.join(', ') : 'every diverted device and snapshot'}${grow ? ', growing file-backed COW stores' : ''}; SIGTERM or Ctrl-C stops it`);
      try {
        await m.done;
      } finally {
        off();
      }
    });

  lockOption(program
    .command('grow-cow'))
    .description('grow the file-backed COW store of a diverted device or snapshot; the kernel uses the room at once')
    .argument('<name>', 'diverted device or snapshot')
    .addOption(new Option('--by <size>', 'add this much, e.g. 256M').argParser(sizeArg('--by')))
    .addOption(new Option('--to <size>', 'grow it to this size').argParser(sizeArg('--to')))
    .action(async (name: string, o: LockOpt & { by?: bigint; to?: bigint }, cmd: Command) => {
      if ((o.by === undefined) === (o.to === undefined)) throw usage('give one of --by SIZE or --to SIZE');
      const d = await ops().describe(name);
      const file = d.cow?.file;
      if (!file) throw new CliError(`${name} is ${d.state}${d.cow ? ' with a COW store on a block device' : ''}: only a file-backed COW store can grow`, Exit.USAGE);
      const from = BigInt(fs.statSync(file).size);
      const to = o.to ?? from + o.by!;
      const r = await ops().growCow(name, to, { lockTimeoutMs: lockMs(o) });
      if (globals(cmd).json) return json({ name, file, fromBytes: from, ...r });
      line(`${name}: COW store ${file} grown from ${formatSize(from)} to ${formatSize(r.bytes)}; the kernel sees ${formatSize(r.totalSectors * 512n)}`);
    });
}
