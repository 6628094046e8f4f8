// dmctl lvm side by side with lvm2 (Debian's, fetched by the rig) on the same PVs: a VG made by
// lvm2 with a linear LV in two segments (whose name has a dash), a striped LV, an LV spanning two
// PVs, a read-only LV and an LV of a type devmapper does not map. `dmctl lvm activate` makes the
// devices `vgchange -ay` makes (names, uuids, tables, read-only), data written through lvm2's
// devices reads back through devmapper's; a missing PV, a bad checksum, a truncated PV and a PV
// shorter than its extents are refused by name.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import { readMdaHeader, readPvLabel } from '../../src/lvm';
import { makeLoop, removeTestDir, testDir, type TestLoop } from '../helpers/loop';
import { lvm2, type Lvm2 } from '../helpers/lvm2';
import { assertBuilt, dmctl, dmctlBackground, ok, okJson } from './cli-helpers';

const MiB = 1024 * 1024;
const VG = `dmt${process.pid}-vg`;
const PREFIX = `${VG.replace(/-/g, '--')}-`;
const node = (lv: string): string => dm.nodePath(`${PREFIX}${lv.replace(/-/g, '--')}`);
let A: TestLoop;
let B: TestLoop;
let lvm: Lvm2;
const copies: string[] = [];

interface Seen {
  name: string;
  uuid: string;
  readOnly: boolean;
  table: string[];
}

/** The VG's dm devices: name, uuid, read-only flag and table. */
function devicesOfVg(): Seen[] {
  return dm.listDevicesSync().filter((d) => d.name.startsWith(PREFIX)).map((d) => {
    const info = dm.infoSync(d.name);
    return { name: d.name, uuid: info.uuid, readOnly: info.flags.readOnly, table: dm.tableSync(d.name).map((t) => `${t.start} ${t.length} ${t.type} ${t.params}`) };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

async function removeVgDevices(): Promise<void> {
  for (const d of devicesOfVg().reverse()) await dm.remove(d.name, { retry: true }).catch(() => undefined);
}

/** A read-only loop device over a copy of the first `bytes` of a PV's image. */
async function truncatedCopy(pv: TestLoop, bytes: number): Promise<{ path: string }> {
  const buf = Buffer.alloc(bytes);
  const fd = fs.openSync(pv.path, 'r');
  fs.readSync(fd, buf, 0, bytes, 0);
  fs.closeSync(fd);
  const file = path.join(testDir(), `copy-${bytes}.img`);
  fs.writeFileSync(file, buf);
  const l = await loop.attach(file, { readOnly: true });
  copies.push(l.path);
  return l;
}

beforeAll(async () => {
  assertBuilt();
  A = await makeLoop(64 * MiB);
  B = await makeLoop(64 * MiB);
  lvm = lvm2(testDir(), [A.path, B.path]);
  lvm.run(['pvcreate', '-y', A.path, B.path]);
  lvm.run(['vgcreate', '-s', '1m', VG, A.path, B.path]);
  const lv = (args: string[]) => lvm.run(['lvcreate', '-y', '-Zn', '-Wn', '-an', ...args]);
  lv(['-n', 'two-seg', '-L', '4m', VG, A.path]);
  lv(['-n', 'gap', '-L', '2m', VG, A.path]);
  lvm.run(['lvextend', '-L', '+4m', `${VG}/two-seg`, A.path]);
  lv(['-n', 'striped', '-i', '2', '-I', '64k', '-L', '8m', VG]);
  lv(['-n', 'ro', '-p', 'r', '-L', '2m', VG, B.path]);
  // More than either PV has left (A 49 extents, B 57): it spans both.
  lv(['-n', 'span', '-L', '60m', VG, A.path, B.path]);
  lv(['--type', 'error', '-n', 'bad', '-L', '4m', VG]);
}, 180_000);

afterEach(removeVgDevices);
afterAll(async () => {
  await removeVgDevices();
  for (const c of copies) await loop.detach(c).catch(() => undefined);
  for (const l of [A, B]) await l?.cleanup().catch(() => undefined);
  await removeTestDir();
});

const PATTERN_AT = [0, 0.5, 1] as const;

/** Writes 64 KiB of random bytes at the start, middle and end of each device; their hashes. */
function writeSamples(names: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of names) {
    const fd = fs.openSync(dm.nodePath(name), 'r+');
    const { major, minor } = dm.infoSync(name);
    const size = Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8')) * 512;
    for (const at of PATTERN_AT) {
      const off = Math.min(Math.floor((size * at) / 65536) * 65536, size - 65536);
      const data = randomBytes(65536);
      fs.writeSync(fd, data, 0, data.length, off);
      out.set(`${name}@${off}`, createHash('sha256').update(data).digest('hex'));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  return out;
}

function readSamples(samples: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of samples.keys()) {
    const [name, off] = key.split('@') as [string, string];
    const fd = fs.openSync(dm.nodePath(name), 'r');
    const buf = Buffer.alloc(65536);
    fs.readSync(fd, buf, 0, buf.length, Number(off));
    fs.closeSync(fd);
    out.set(key, createHash('sha256').update(buf).digest('hex'));
  }
  return out;
}

describe('dmctl lvm beside lvm2', () => {
  it('activates what vgchange -ay activates: the same names, uuids, tables and read-only flags; lvm2 data reads back; deactivate refuses while open', async () => {
    lvm.run(['vgchange', '-ay', VG]);
    const theirs = devicesOfVg();
    expect(theirs.map((d) => d.name)).toEqual(['bad', 'gap', 'ro', 'span', 'striped', 'two--seg'].map((l) => PREFIX + l));
    const samples = writeSamples(theirs.filter((d) => !d.readOnly && !d.name.endsWith('-bad')).map((d) => d.name));
    lvm.run(['vgchange', '-an', VG]);
    expect(devicesOfVg()).toEqual([]);

    const r = await dmctl(['--json', 'lvm', 'activate', VG]);
    // The error-type LV is refused by name and type; every other LV is made.
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/refused bad: .*LV bad is of type error/);
    const report = JSON.parse(r.stdout) as { lvs: { lv: string; result: string; error?: { code: string } }[] };
    expect(report.lvs.map((x) => [x.lv, x.result, x.error?.code])).toEqual([
      ['two-seg', 'created', undefined], ['gap', 'created', undefined], ['striped', 'created', undefined],
      ['ro', 'created', undefined], ['span', 'created', undefined], ['bad', 'refused', 'UNSUPPORTED_SEGMENT'],
    ]);
    const ours = devicesOfVg();
    expect(ours).toEqual(theirs.filter((d) => !d.name.endsWith('-bad')));
    // What the VG was built to cover, as lvm2 mapped it too.
    const table = (lv: string) => ours.find((d) => d.name === PREFIX + lv.replace(/-/g, '--'))!.table;
    expect(table('two-seg')).toHaveLength(2);
    expect(table('striped')).toEqual([expect.stringMatching(/^0 16384 striped 2 128 \d+:\d+ \d+ \d+:\d+ \d+$/)]);
    expect(table('span').map((t) => t.split(' ')[3]).sort()).toEqual([`${A.major}:${A.minor}`, `${B.major}:${B.minor}`].sort());
    expect(ours.find((d) => d.name.endsWith('-ro'))!.readOnly).toBe(true);
    expect(readSamples(samples)).toEqual(samples);
    expect(fs.readlinkSync(`/dev/${VG}/two-seg`)).toBe(`../mapper/${PREFIX}two--seg`);

    const listed = await okJson<{ name: string; lvs: { name: string; type: string; active?: string }[] }[]>(['lvm', 'list', A.path, B.path]);
    expect(listed.map((v) => v.name)).toEqual([VG]);
    // Every block device of the machine when none is given: the same VG among whatever else is there.
    const scanned = await okJson<{ name: string; lvs: unknown[] }[]>(['lvm', 'list']);
    expect(scanned.find((v) => v.name === VG)).toEqual(listed[0]);
    expect(listed[0]!.lvs.map((l) => [l.name, l.type, l.active])).toEqual([
      ['two-seg', 'linear', `${PREFIX}two--seg`], ['gap', 'linear', `${PREFIX}gap`], ['striped', 'striped', `${PREFIX}striped`],
      ['ro', 'linear', `${PREFIX}ro`], ['span', 'linear', `${PREFIX}span`], ['bad', 'error', undefined],
    ]);
    // Again: every device is kept as it is; naming LVs limits the call to them.
    expect(await ok(['lvm', 'activate', VG, 'gap', 'span'])).toMatch(/gap: already active.*\n.*span: already active/);

    const fd = fs.openSync(node('span'), 'r');
    try {
      const busy = await dmctl(['lvm', 'deactivate', VG]);
      expect(busy.code, busy.stderr).toBe(5);
      expect(busy.stderr).toMatch(/span is open or mounted: nothing was removed/);
      expect(devicesOfVg()).toEqual(ours);
    } finally {
      fs.closeSync(fd);
    }
    expect(await ok(['lvm', 'deactivate', VG])).toMatch(/^removed /);
    expect(devicesOfVg()).toEqual([]);
    expect(fs.existsSync(`/dev/${VG}`)).toBe(false);
  });

  it('a missing PV: the LVs on it are refused by name, the others map', async () => {
    const r = await dmctl(['--json', 'lvm', 'activate', VG, '--device', A.path]);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(r.stdout) as { lvs: { lv: string; result: string; error?: { code: string } }[] };
    expect(report.lvs.map((x) => [x.lv, x.result, x.error?.code])).toEqual([
      ['two-seg', 'created', undefined], ['gap', 'created', undefined], ['striped', 'refused', 'MISSING_PV'],
      ['ro', 'refused', 'MISSING_PV'], ['span', 'refused', 'MISSING_PV'], ['bad', 'refused', 'UNSUPPORTED_SEGMENT'],
    ]);
    expect(r.stderr).toMatch(/refused striped: .*LV striped needs pv1/);
    expect(devicesOfVg().map((d) => d.name)).toEqual([`${PREFIX}gap`, `${PREFIX}two--seg`]);
    await ok(['lvm', 'deactivate', VG]);
    expect(devicesOfVg()).toEqual([]);
    // No such VG, no such LV: exit 4, one line naming what was looked for, nothing made.
    const noVg = await dmctl(['lvm', 'activate', `${VG}x`, '--device', A.path, '--device', B.path]);
    expect([noVg.code, noVg.stderr.trim().split('\n').length]).toEqual([4, 1]);
    expect(noVg.stderr).toMatch(new RegExp(`no VG named ${VG}x .*VGs found: ${VG}`));
    const noLv = await dmctl(['lvm', 'activate', VG, 'nosuch', '--device', A.path, '--device', B.path]);
    expect(noLv.code).toBe(4);
    expect(noLv.stderr).toMatch(/has no LV named nosuch \(it has two-seg, gap, striped, ro, span, bad\)/);
    expect(devicesOfVg()).toEqual([]);
  });

  it('a VG owned by another host (LVM2 system ID) is refused as vgchange refuses it, nothing made', async () => {
    const C = await makeLoop(16 * MiB);
    try {
      const dir = path.join(testDir(), 'foreign');
      fs.mkdirSync(dir);
      const other = lvm2(dir, [C.path]);
      const elsewhere = ['--config', 'global { system_id_source = "lvmlocal" } local { system_id = "elsewhere" }'];
      const vg2 = `${VG}2`;
      other.run(['vgcreate', ...elsewhere, '-s', '1m', vg2, C.path]);
      other.run(['lvcreate', ...elsewhere, '-y', '-Zn', '-Wn', '-an', '-n', 'lv', '-L', '4m', vg2]);
      expect(other.tryRun(['vgchange', '-ay', vg2]).code).not.toBe(0);
      const r = await dmctl(['--json', 'lvm', 'activate', vg2, '--device', C.path]);
      expect(r.code, r.stderr).toBe(3);
      expect(JSON.parse(r.stdout).lvs.map((x: { result: string; error?: { code: string } }) => [x.result, x.error?.code])).toEqual([['refused', 'FOREIGN_VG']]);
      expect(r.stderr).toMatch(/belongs to system ID "elsewhere", not to this host/);
      const listed = await okJson<{ systemId?: string }[]>(['lvm', 'list', C.path]);
      expect(listed.map((v) => v.systemId)).toEqual(['elsewhere']);
      expect(dm.listDevicesSync().filter((d) => d.name.startsWith(vg2.replace(/-/g, '--')))).toEqual([]);
    } finally {
      await C.cleanup();
    }
  });

  it('damaged PVs: a bad text checksum, a truncated PV and a PV shorter than its extents are refused naming where; nothing maps over the wrong bytes', async () => {
    // A PV cut after its metadata header: the text is past the end.
    const cut = await truncatedCopy(A, 6 * 1024);
    const t = await dmctl(['lvm', 'list', cut.path]);
    expect(t.code).toBe(3);
    expect(t.stderr).toMatch(new RegExp(`${cut.path} .*metadata text at byte \\d+: needed \\d+ bytes, the device gave \\d+`));

    // A PV of 8 MiB where the VG says 64: LVs whose extents lie past its end are refused, the one inside maps.
    const short = await truncatedCopy(A, 8 * MiB);
    const s = await dmctl(['--json', 'lvm', 'activate', VG, '--device', short.path]);
    expect(s.code, s.stderr).toBe(3);
    const report = JSON.parse(s.stdout) as { lvs: { lv: string; result: string; error?: { code: string } }[] };
    expect(report.lvs.filter((x) => x.lv === 'two-seg' || x.lv === 'gap').map((x) => [x.lv, x.result, x.error?.code])).toEqual([
      ['two-seg', 'refused', 'PAST_END'], ['gap', 'created', undefined],
    ]);
    expect(s.stderr).toMatch(/refused two-seg: .*LV two-seg needs sectors \d+\.\.\d+ of pv0 \(\d+:\d+\), which has 16384/);
    await ok(['lvm', 'deactivate', VG]);

    // One byte of A's committed text flipped: A alone is refused naming the checksum; with B the VG maps from B's copy.
    const read = (fd: number) => (offset: bigint, length: number) => {
      const b = Buffer.alloc(length);
      return b.subarray(0, fs.readSync(fd, b, 0, length, offset));
    };
    const fd = fs.openSync(A.path, 'r+');
    const label = readPvLabel(read(fd))!;
    const h = readMdaHeader(read(fd), label.metadataAreas[0]!);
    const at = Number(h.start + h.committed.offset) + 100;
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at);
    fs.writeSync(fd, Buffer.from([byte[0]! ^ 0x20]), 0, 1, at);
    fs.fsyncSync(fd);
    try {
      const bad = await dmctl(['lvm', 'list', A.path]);
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(new RegExp(`${A.path} metadata text at byte \\d+: text checksum is 0x[0-9a-f]+, the header expects 0x[0-9a-f]+`));
      const alone = await dmctl(['lvm', 'activate', VG, '--device', A.path]);
      expect(alone.code).toBe(3);
      expect(alone.stderr).toMatch(/no readable metadata names VG .*text checksum/);
      expect(devicesOfVg()).toEqual([]);
      const both = await dmctl(['lvm', 'activate', VG, 'two-seg', '--device', A.path, '--device', B.path]);
      expect(both.code, both.stderr).toBe(0);
      expect(both.stderr).toMatch(/note: .*text checksum/);
      expect(devicesOfVg().map((d) => d.name)).toEqual([`${PREFIX}two--seg`]);
      await ok(['lvm', 'deactivate', VG]);
    } finally {
      fs.writeSync(fd, byte, 0, 1, at);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    expect(lvm.run(['vgs', '--noheadings', '-o', 'vg_name', VG]).trim()).toBe(VG);
  });
});

describe('dmctl lvm beside a second process, and after a kill', () => {
  // dmctl reads lvm2's locking_dir from the same lvm.conf as the lvm2 of these tests.
  const env = (): Record<string, string> => ({ LVM_SYSTEM_DIR: path.join(testDir(), 'lvm') });
  const lockFile = (): string => path.join(testDir(), 'lvm', 'lock', `V_${VG}`);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** Holds LVM2's lock on the VG from another process (flock(1), as lvm2 takes it) until released. */
  async function holdVgLock(): Promise<{ release(): Promise<void> }> {
    // Its own process group: the command flock(1) runs holds the lock too, so both go on release.
    const holder = spawn('flock', ['-x', lockFile(), 'sh', '-c', 'echo held; exec sleep 600'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
    });
    const gone = new Promise<void>((r) => holder.once('exit', () => r()));
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        process.kill(-holder.pid!, 'SIGKILL');
        await gone;
      },
    };
  }

  it("activate and deactivate wait for LVM2's VG lock, and give up past --lock-timeout having changed nothing; lvm2 honours the same lock", async () => {
    const held = await holdVgLock();
    try {
      // lvm2 itself, told not to wait, is refused by the same lock: it is the file lvm2 uses.
      const theirs = lvm.tryRun(['vgchange', '--config', 'global { wait_for_locks = 0 }', '-ay', VG]);
      expect(theirs.code, theirs.stderr).not.toBe(0);
      expect(theirs.stderr).toMatch(/lock/i);
      const refused = await dmctl(['lvm', 'activate', VG, 'gap', '--lock-timeout', '0'], { env: env() });
      expect(refused.code, refused.stderr).toBe(5);
      expect(refused.stderr).toMatch(new RegExp(`VG ${VG} is locked by another LVM command .*nothing was changed`));
      expect(devicesOfVg()).toEqual([]);
      const waiting = dmctlBackground(['lvm', 'activate', VG, 'gap'], env());
      // While the lock is held, nothing is made.
      for (let i = 0; i < 10; i++) {
        await sleep(200);
        expect(waiting.out().code).toBe(null);
        expect(devicesOfVg()).toEqual([]);
      }
      await held.release();
      const r = await waiting.done;
      expect(r.code, r.stderr).toBe(0);
      expect(devicesOfVg().map((d) => d.name)).toEqual([`${PREFIX}gap`]);
    } finally {
      await held.release();
    }
    const again = await holdVgLock();
    try {
      const busy = await dmctl(['lvm', 'deactivate', VG, '--lock-timeout', '0.2'], { env: env() });
      expect(busy.code, busy.stderr).toBe(5);
      expect(devicesOfVg().map((d) => d.name)).toEqual([`${PREFIX}gap`]);
    } finally {
      await again.release();
    }
    expect(await ok(['lvm', 'deactivate', VG])).toMatch(/^removed /);
  });

  it('an LV device a killed activation left half-made: recover removes it, activate makes it again; a real kill ends the same', async () => {
    const made = await dmctl(['--json', 'lvm', 'activate', VG]);
    const whole = devicesOfVg();
    const lvs = (JSON.parse(made.stdout) as { lvs: { lv: string; name: string; uuid: string; result: string }[] }).lvs.filter((x) => x.result === 'created');
    expect(lvs.length).toBe(5);
    await ok(['lvm', 'deactivate', VG]);
    // What a kill between DEV_CREATE and TABLE_LOAD leaves: the name and uuid, no table.
    const span = lvs.find((x) => x.lv === 'span')!;
    await dm.create(span.name, { uuid: span.uuid });
    const rec = await okJson<{ device: string; state: string; did: string[] }[]>(['recover']);
    expect(rec.filter((x) => x.device === span.name).map((x) => x.state)).toEqual(['gone']);
    expect(dm.infoOrNone(span.name)).toBeUndefined();
    expect(await okJson(['recover'])).toEqual([]);
    // Or activate again: the half-made device (here with its table loaded, not resumed) is made again.
    await dm.create(span.name, { uuid: span.uuid });
    await dm.loadRawTable(span.name, [{ start: 0n, length: 8n, type: 'zero', params: '' }]);
    const redo = await dmctl(['--json', 'lvm', 'activate', VG]);
    expect(redo.code, redo.stderr).toBe(3); // the error-type LV, refused as always
    expect(devicesOfVg()).toEqual(whole);
    await ok(['lvm', 'deactivate', VG]);
    // A real SIGKILL at some point of an activation: recover, then activate, end as a clean activation.
    for (const afterMs of [0, 40, 120]) {
      const b = dmctlBackground(['lvm', 'activate', VG]);
      await sleep(afterMs);
      b.child.kill('SIGKILL');
      await b.done;
      for (const r of await okJson<{ device: string; state: string }[]>(['recover'])) expect(r.state, JSON.stringify(r)).toBe('gone');
      for (const d of devicesOfVg()) expect(whole, d.name).toContainEqual(d);
      expect((await dmctl(['lvm', 'activate', VG])).code).toBe(3);
      expect(devicesOfVg()).toEqual(whole);
      await ok(['lvm', 'deactivate', VG]);
    }
  });
});
