// What recover needs to put a recorded arrangement back: recorded devices found again (loop devices
// attached again on their files), the recorded table with today's device numbers, devices left
// suspended or with a table loaded settled, and COW files of finished arrangements deleted.
import fs from 'node:fs';
import * as dm from '../dm';
import * as loop from '../loop';
import { locate, type DeviceIdentity } from '../records';
import type { RawTarget } from '../native';
import type { DevNum } from '../table';
import { refusal } from './errors';
import { devKey, infoOrNone } from './kernel';
import { whereRecorded, type CowRecord, type RecordBase } from './record';

/** Recorded devices found again; loop devices recover attached for COW files stay bound (by a
 *  descriptor) until release(), once a table holds them. */
export class Finder {
  private readonly releases: (() => Promise<void>)[] = [];
  constructor(readonly did: string[]) {}

  async find(id: DeviceIdentity, autoclear = false): Promise<DevNum> {
    const at = locate(id);
    if ('num' in at) return at.num;
    if (id.kind === 'loop' && fs.existsSync(id.file)) {
      const l = await loop.attach(id.file, { offset: BigInt(id.offset), sizeLimit: BigInt(id.sizeLimit), autoclear });
      this.did.push(`attached ${l.path} on ${id.file}`);
      if (autoclear) this.releases.push(() => l.release?.() ?? Promise.resolve());
      return { major: l.major, minor: l.minor };
    }
    throw refusal(`${whereRecorded(id)} is not there (${at.missing})`, 'ENOENT');
  }

  /** The COW store's device: its file attached (autoclear, as devmapper attaches its own). */
  async cow(c: CowRecord, owner: string): Promise<DevNum> {
    if (c.file) {
      if (!fs.existsSync(c.file)) throw refusal(`${owner}'s COW file ${c.file} is not there`, 'ENOENT');
      return this.find({ kind: 'loop', file: c.file, offset: '0', sizeLimit: '0', sectors: String(fs.statSync(c.file).size / 512) }, true);
    }
    if (c.device) return this.find(c.device);
    throw refusal(`${owner}'s COW store has no stable name in its record`, 'ENOENT');
  }

  /** The recorded table with today's device numbers. */
  async table(r: RecordBase): Promise<RawTarget[]> {
    if (r.secret) throw refusal(`${r.device}'s table holds a key, which devmapper does not store: open ${r.device} again as before (e.g. cryptsetup open), then run 'dmctl recover'`, 'EINVAL');
    const map = new Map<string, string>();
    for (const [old, id] of Object.entries(r.devices)) {
      if ('unstable' in id) throw refusal(`${r.device}'s table names ${whereRecorded(id)}: it cannot be found again after a reboot`, 'ENOENT');
      map.set(old, devKey(await this.find(id)));
    }
    return r.table.trimEnd().split('\n').map((line) => {
      const [start, length, type, ...params] = line.split(' ');
      return { start: BigInt(start), length: BigInt(length), type, params: params.map((w) => map.get(w) ?? w).join(' ') };
    });
  }

  async release(): Promise<void> {
    while (this.releases.length) await this.releases.pop()!().catch(() => undefined);
  }
}

/** A suspended device is resumed and an inactive table dropped: no operation leaves either. */
export async function settle(name: string, did: string[]): Promise<void> {
  const i = infoOrNone(name);
  if (!i) return;
  if (i.flags.inactivePresent) {
    await dm.clearTable(name);
    did.push(`dropped the inactive table of ${name}`);
  }
  if (i.flags.suspended) {
    await dm.resume(name);
    did.push(`resumed ${name}`);
  }
}

/** V made again on its own table (an arrangement that was ending when the machine went down). */
export async function rebuildPlain(r: RecordBase, did: string[]): Promise<void> {
  const table = await new Finder(did).table(r);
  await dm.create(r.device, { ...(r.uuid ? { uuid: r.uuid } : {}) });
  await dm.loadRawTable(r.device, table, { readOnly: r.readOnly });
  await dm.resume(r.device);
  did.push(`made ${r.device} on its own table again`);
}

/** Deletes a COW file devmapper made, once no table holds it (its loop device detached first). */
export async function dropOwnedCow(c: CowRecord, did: string[]): Promise<void> {
  if (!c.owned || !c.file) return;
  for (const l of await loop.list()) if (l.file === c.file) await loop.detach(l.path).catch(() => undefined);
  if (fs.existsSync(c.file)) {
    fs.rmSync(c.file, { force: true });
    did.push(`deleted ${c.file}`);
  }
}
