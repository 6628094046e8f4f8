// describe(): what a device is, from the kernel's tables alone (names, uuids, tables, status).
import * as dm from '../dm';
import type { RawTarget } from '../native';
import { parseDevNum, parseSnapshotStatus, parseStatus, percentFull, type DevNum, type SnapshotStatus } from '../table';
import { cowInfo, type CowInfo } from './cow';
import { devKey, dmDeviceAt, infoOrNone, liveTable, pathOf, tableText } from './kernel';
import { refusal } from './errors';
import { baseName, baseOwner, isMoveUuid, isSnapUuid, migrationOwner } from './naming';

/** What a device is to devmapper: plain, diverted, merging, origin, snapshot or migrating. */
export type DeviceRole = 'plain' | 'diverted' | 'merging' | 'origin' | 'snapshot' | 'migrating';

/** A COW store with its snapshot status and fill level. */
export interface CowState extends CowInfo {
  status: SnapshotStatus;
  /** Fill level 0-100, when the status has numbers. */
  percentFull?: number;
}

/** One snapshot of an origin, as describe() reports it. */
export interface SnapshotDescription {
  name: string;
  cow: CowState;
  chunkSectors: number;
  persistent: string;
}

/** What describe() reports about a device. */
export interface Description {
  name: string;
  /** plain: no devmapper snapshot; diverted: writes go to a COW over a frozen base; merging: the
   *  COW is being merged (back) into the base; origin: live origin with point-in-time snapshots;
   *  snapshot: a point-in-time snapshot of `origin`; migrating: its data is being moved to another
   *  disk by migrate(). */
  state: DeviceRole;
  suspended: boolean;
  /** The hidden device holding the original table (diverted, merging, origin, snapshot). */
  base?: { name: string; path: string; dev: string; readOnly: boolean; table: string };
  /** diverted / merging / snapshot: the COW store and its fill level. */
  cow?: CowState;
  chunkSectors?: number;
  persistent?: string;
  /** merging: whether the kernel has finished copying (allocated == metadata). */
  merge?: { complete: boolean; failed: boolean };
  /** origin (and merging, when other snapshots remain): the point-in-time snapshots. */
  snapshots?: SnapshotDescription[];
  /** snapshot: the live origin device. */
  origin?: string;
  /** plain: a base device left over by an interrupted operation. */
  leftoverBase?: string;
  /** migrating: the mirror that copies, and how far it is (regions in sync of all). */
  migration?: { mirror: string; inSyncRegions: bigint; totalRegions: bigint; health: string };
}

/** Internal view with the raw pieces the operations need. */
export interface Inspection extends Description {
  info: dm.DeviceInfo;
  table: RawTarget[];
  baseInfo?: dm.DeviceInfo;
  baseTable?: RawTarget[];
  cowNum?: DevNum;
}

const SNAP_TYPES = new Set(['snapshot', 'snapshot-merge', 'snapshot-origin']);

function words(params: string): string[] {
  return params.trim().split(/\s+/);
}

async function cowState(cowRef: string, status: string): Promise<CowState> {
  const num = parseDevNum(cowRef)!;
  const s = parseSnapshotStatus(status);
  const pf = percentFull(s);
  return { ...(await cowInfo(num)), status: s, ...(pf === undefined ? {} : { percentFull: pf }) };
}

/** The point-in-time snapshots whose origin is `base` (devices with a DEVMAPPER-SNAP uuid). */
export async function snapshotsOf(base: DevNum, except?: string): Promise<SnapshotDescription[]> {
  const out: SnapshotDescription[] = [];
  for (const d of dm.listDevicesSync()) {
    if (d.name === except) continue;
    const uuid = d.uuid ?? infoOrNone(d.name)?.uuid;
    if (!isSnapUuid(uuid)) continue;
    const t = liveTable(d.name);
    if (t.length !== 1 || t[0].type !== 'snapshot') continue;
    const w = words(t[0].params);
    if (w[0] !== devKey(base)) continue;
    const st = dm.statusSync(d.name)[0]?.params ?? 'Unknown';
    out.push({ name: d.name, cow: await cowState(w[1], st), persistent: w[2], chunkSectors: Number(w[3]) });
  }
  return out;
}

/** Refuses a device caught in the middle of a change: suspended, or with a table loaded that has
 *  not gone live. An operation must not start from there. */
export function refuseMidChange(d: { info: dm.DeviceInfo }, name: string): void {
  if (d.info.flags.suspended || d.info.flags.inactivePresent) throw refusal(`${name} is suspended or has an inactive table`, 'EBUSY');
}

/** Refuses an operation that needs a plain device, naming an origin's snapshots (a running
 *  backup's among them), which are what stands in the way. */
export function refuseNotPlain(d: { state: string; snapshots?: SnapshotDescription[] }, name: string, verb: string): void {
  if (d.state === 'plain') return;
  const of = d.snapshots?.length ? ` of ${d.snapshots.map((s) => s.name).join(', ')}` : '';
  throw refusal(`${name} is ${d.state}${of}, not plain: it cannot be ${verb}${of ? ' while they exist' : ''}`, 'EBUSY');
}

export async function inspect(name: string): Promise<Inspection> {
  const info = dm.infoSync(name);
  const table = liveTable(name);
  const out: Inspection = { name, state: 'plain', suspended: info.flags.suspended, info, table };
  const moving = migrationOf(name, table);
  if (moving) return { ...out, state: 'migrating', migration: moving };
  const t = table.length === 1 && SNAP_TYPES.has(table[0].type) ? table[0] : undefined;
  const w = t ? words(t.params) : [];
  const originNum = t ? parseDevNum(w[0]) : undefined;
  const baseInfo = originNum ? dmDeviceAt(originNum) : undefined;
  const owner = baseOwner(baseInfo?.uuid);
  if (!t || !baseInfo || owner === undefined) {
    const left = infoOrNone(baseName(name));
    if (left && baseOwner(left.uuid) === name) out.leftoverBase = left.name;
    return out;
  }
  out.baseInfo = baseInfo;
  out.baseTable = liveTable(baseInfo.name);
  out.base = {
    name: baseInfo.name,
    path: pathOf(originNum!),
    dev: devKey(originNum!),
    readOnly: baseInfo.flags.readOnly,
    table: tableText(out.baseTable),
  };
  const status = dm.statusSync(name)[0]?.params ?? '';
  if (t.type === 'snapshot-origin') {
    out.state = 'origin';
    out.snapshots = await snapshotsOf(originNum!);
    return out;
  }
  out.cowNum = parseDevNum(w[1]);
  out.cow = await cowState(w[1], status);
  out.persistent = w[2];
  out.chunkSectors = Number(w[3]);
  if (t.type === 'snapshot-merge') {
    out.state = 'merging';
    const s = out.cow.status;
    out.merge = { complete: s.state === 'active' && s.allocated === s.metadata, failed: s.state === 'merge-failed' || s.state === 'invalid' };
    const others = await snapshotsOf(originNum!);
    if (others.length) out.snapshots = others;
    return out;
  }
  if (isSnapUuid(info.uuid)) {
    out.state = 'snapshot';
    out.origin = owner;
    return out;
  }
  out.state = 'diverted';
  return out;
}

/** V's table is one linear over its migration's mirror: the mirror and its progress. */
function migrationOf(name: string, table: RawTarget[]): Description['migration'] {
  if (table.length !== 1 || table[0].type !== 'linear') return undefined;
  const num = parseDevNum(words(table[0].params)[0]);
  const m = num ? dmDeviceAt(num) : undefined;
  if (!m || !isMoveUuid(m.uuid) || migrationOwner(m.uuid) !== name) return undefined;
  const st = dm.statusSync(m.name)[0];
  if (st?.type !== 'mirror') return { mirror: m.name, inSyncRegions: 0n, totalRegions: 0n, health: '' };
  const s = parseStatus('mirror', st.params);
  return { mirror: m.name, inSyncRegions: s.inSyncRegions, totalRegions: s.totalRegions, health: s.health.join('') };
}

/** What `name` is, from the kernel's device list and tables alone. */
export async function describe(name: string): Promise<Description> {
  const { info: _i, table: _t, baseInfo: _b, baseTable: _bt, cowNum: _c, ...d } = await inspect(name);
  return d;
}
