// mirror: dm-raid1.c with its dirty-region log from dm-log.c.
import { statusReader, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { TargetBase, TargetDescriptor } from '../types';
import { parseHealth, type HealthChar } from './basic';

/** One leg of a mirror: a device and an offset. */
export interface MirrorLeg {
  device: DevRef;
  offset: bigint;
}

/** The `mirror` target: writes to every leg, with a dirty log. */
export interface MirrorTarget extends TargetBase {
  type: 'mirror';
  /**
   * The dirty-region log: `core` args `<region size> [sync|nosync]`, `disk` args
   * `<log device> <region size> [sync|nosync]`. A device in args is written as given.
   */
  log: { type: string; args: string[] };
  legs: MirrorLeg[];
  handleErrors?: boolean;
  keepLog?: boolean;
}

/** Status of a mirror target: leg health, regions in sync, and the log status. */
export interface MirrorStatus {
  devices: string[];
  health: HealthChar[];
  inSyncRegions: bigint;
  totalRegions: bigint;
  /** The log's own status words, e.g. ["core"] or ["disk", "8:48", "A"]. */
  log: string[];
}

// mirror_status, STATUSTYPE_TABLE: the log's table ("core 1 1024 ", "disk 2 8:48 1024 ", note the
// trailing space), "<#legs>", " <dev> <offset>" per leg, then " <n> [handle_errors] [keep_log]" if any.
export const mirror: TargetDescriptor<MirrorTarget, MirrorStatus> = {
  type: 'mirror',
  parse(a: ArgReader) {
    const logType = a.next('log type');
    const logArgs = a.counted('log');
    const n = a.u32('number of mirrors');
    const legs: MirrorLeg[] = [];
    for (let i = 0; i < n; i++) legs.push({ device: a.next(`mirror ${i} device`), offset: a.u64(`mirror ${i} offset`) });
    const out: Omit<MirrorTarget, 'start' | 'length' | 'type'> = { log: { type: logType, args: logArgs }, legs };
    for (const f of a.counted('features')) {
      if (f === 'handle_errors') out.handleErrors = true;
      else if (f === 'keep_log') out.keepLog = true;
      else throw new TableError(`unknown feature ${JSON.stringify(f)}`, 'syntax');
    }
    a.end();
    return out;
  },
  format(t, dev) {
    const logArgs = t.log.type === 'disk' && t.log.args.length ? [dev(t.log.args[0]), ...t.log.args.slice(1)] : t.log.args;
    const feats = [t.handleErrors && 'handle_errors', t.keepLog && 'keep_log'].filter((x): x is string => !!x);
    const words = [t.log.type, String(logArgs.length), ...logArgs, String(t.legs.length), ...t.legs.map((l) => `${dev(l.device)} ${l.offset}`)];
    if (feats.length) words.push(String(feats.length), ...feats);
    return words.join(' ');
  },
  // STATUSTYPE_INFO: "<#legs> <dev>... <in sync>/<regions> 1 <health> <#log words> <log words>..."
  parseStatus(status) {
    const a = statusReader(status);
    const n = a.u32('number of mirrors');
    const devices = Array.from({ length: n }, (_, i) => a.next(`mirror ${i} device`));
    const [inSyncRegions, totalRegions] = a.ratio('regions in sync');
    a.oneOf('health count', ['1'] as const);
    const health = parseHealth(a.next('health'), n);
    const log = a.list('log status');
    a.end();
    return { devices, inSyncRegions, totalRegions, health, log };
  },
  devices: (t) => [
    ...t.legs.map((l, i) => ({ ref: l.device, role: `mirror ${i}`, end: l.offset + t.length })),
    ...(t.log.type === 'disk' && t.log.args[0] ? [{ ref: t.log.args[0], role: 'log device' }] : []),
  ],
  check: (t) => (t.legs.length < 1 ? [{ rule: 'field', message: 'a mirror needs at least one leg' }] : []),
};
