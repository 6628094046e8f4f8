import { describe, expect, it } from 'vitest';
import { LvmError, activationPlan, dmName, dmUuid, lvTable, splitDmName, volumeGroupFromText, type VolumeGroup } from '../../src/lvm';
import { PV0, PV1, VG_ID, type VgSpec, id, sample, vgText } from '../helpers/lvm-image';
import { thrown } from '../helpers/thrown';

const bare = (u: string): string => u.replace(/-/g, '');

const loops = (pvId: string): string | undefined => ({ [bare(PV0)]: '7:0', [bare(PV1)]: '7:1' })[pvId];
const lv = (vg: VolumeGroup, name: string) => vg.lvs.find((l) => l.name === name)!;
const lines = (vg: VolumeGroup, name: string, dev = loops) =>
  lvTable(vg, lv(vg, name), dev).map((t) => `${t.start} ${t.length} ${t.type} ${t.params}`);
const refusal = (f: () => unknown): LvmError => thrown(f, LvmError);

describe('LVM2 metadata to dm devices', () => {
  for (const style of ['backup', 'disk'] as const) {
    it(`reads a ${style}-style text into the VG model`, () => {
      const vg = volumeGroupFromText(vgText(sample, style));
      expect(vg).toMatchObject({ name: 'vg-x', id: bare(VG_ID), uuid: VG_ID, seqno: 9, extentSize: 8192n, status: ['RESIZEABLE', 'READ', 'WRITE'] });
      expect(vg.pvs.map((p) => [p.name, p.id, p.peStart, p.peCount, p.deviceHint])).toEqual([
        ['pv0', bare(PV0), 2048n, 24, '/dev/loop0'], ['pv1', bare(PV1), 2048n, 24, '/dev/loop1'],
      ]);
      expect(vg.lvs.map((l) => [l.name, l.type, l.extentCount, l.visible])).toEqual([
        ['lin', 'linear', 5, true], ['stripe', 'striped', 4, true], ['span', 'linear', 8, true], ['lv-y', 'linear', 2, true],
      ]);
    });
  }

  it('names devices VG-LV with every dash doubled, as dm_build_dm_name does', () => {
    expect(dmName('vg-x', 'lv-y')).toBe('vg--x-lv--y');
    expect(dmName('vg', 'a--b')).toBe('vg-a----b');
    const vg = volumeGroupFromText(vgText(sample, 'disk'));
    expect(activationPlan(vg, loops).map((a) => (a.action === 'create' ? a.name : a.action))).toEqual(['vg--x-lin', 'vg--x-stripe', 'vg--x-span', 'vg--x-lv--y']);
  });

  it('gives each LV the uuid LVM-<vg id><lv id>, ids without dashes', () => {
    const vg = volumeGroupFromText(vgText(sample, 'disk'));
    expect(dmUuid(vg, lv(vg, 'lv-y'))).toBe('LVM-Xy3b8Q1bZkaP2kLx0N9QwErT5uYh7JkLLv4xyzAbCdEfGhIjKlMnOpQrStUvWx04');
    expect(dmUuid(vg, lv(vg, 'lin'))).toHaveLength(4 + 64);
  });

  it('builds the tables vgchange -ay loads: linear per segment, striped with #stripes and chunk size, offsets pe_start + extent * extent_size', () => {
    const vg = volumeGroupFromText(vgText(sample, 'backup'));
    expect(lines(vg, 'lin')).toEqual(['0 16384 linear 7:0 2048', '16384 24576 linear 7:0 83968']);
    expect(lines(vg, 'stripe')).toEqual(['0 32768 striped 2 128 7:0 18432 7:1 2048']);
    expect(lines(vg, 'span')).toEqual(['0 24576 linear 7:0 34816', '24576 40960 linear 7:1 18432']);
    expect(lines(vg, 'lv-y')).toEqual(['0 16384 linear 7:1 59392']);
  });

  it('writes a one-stripe segment as striped 1 <extent size> when use_linear_target is off', () => {
    const vg = volumeGroupFromText(vgText(sample, 'disk'));
    expect(lvTable(vg, lv(vg, 'lv-y'), loops, { useLinearTarget: false })).toEqual([{ start: 0n, length: 16384n, type: 'striped', params: '1 8192 7:1 59392' }]);
  });

  it('merges segments that continue each other on the same PV into one line, as LVM2 does on reading', () => {
    const spec: VgSpec = { ...sample, lvs: [{ name: 'grown', id: id(5), segments: [
      { start: 0, count: 2, stripes: [['pv0', 3]] }, { start: 2, count: 4, stripes: [['pv0', 5]] }, { start: 6, count: 1, stripes: [['pv1', 0]] },
    ] }] };
    const vg = volumeGroupFromText(vgText(spec, 'disk'));
    expect(lv(vg, 'grown').segments.map((s) => [s.startExtent, s.extentCount])).toEqual([[0, 6], [6, 1]]);
    expect(lines(vg, 'grown')).toEqual(['0 49152 linear 7:0 26624', '49152 8192 linear 7:1 2048']);
  });

  it('refuses only the LVs on a missing PV, naming the LV and the PV', () => {
    const vg = volumeGroupFromText(vgText(sample, 'disk'));
    const only0 = (pvId: string) => (pvId === bare(PV0) ? '7:0' : undefined);
    const plan = activationPlan(vg, only0);
    expect(plan.map((a) => [a.lv.name, a.action])).toEqual([['lin', 'create'], ['stripe', 'refuse'], ['span', 'refuse'], ['lv-y', 'refuse']]);
    const e = refusal(() => lvTable(vg, lv(vg, 'span'), only0));
    expect(e).toMatchObject({ code: 'MISSING_PV', lv: 'span', where: 'vg-x/span' });
    expect(e.message).toContain(`pv1 (${PV1})`);
    // a PV the metadata marks MISSING counts as missing even if a device is offered
    const marked = volumeGroupFromText(vgText({ ...sample, pvs: [sample.pvs[0]!, { ...sample.pvs[1]!, status: ['ALLOCATABLE', 'MISSING'] }] }, 'disk'));
    expect(activationPlan(marked, loops).filter((a) => a.action === 'refuse').map((a) => a.lv.name)).toEqual(['stripe', 'span', 'lv-y']);
  });

  it('refuses an LV reaching past the end of its PV as the device is now (a shrunk or truncated PV), naming the sectors', () => {
    const vg = volumeGroupFromText(vgText(sample, 'disk'));
    const sectors = (pvId: string) => (pvId === bare(PV1) ? 4096n : undefined);
    const plan = activationPlan(vg, loops, { pvSectors: sectors });
    expect(plan.filter((a) => a.action === 'refuse').map((a) => [a.lv.name, a.action === 'refuse' && a.error.code])).toEqual([['stripe', 'PAST_END'], ['span', 'PAST_END'], ['lv-y', 'PAST_END']]);
    expect(refusal(() => lvTable(vg, lv(vg, 'span'), loops, { pvSectors: sectors })).message).toMatch(/LV span needs sectors \d+\.\.\d+ of pv1 \(7:1\), which has 4096/);
  });

  it('refuses every LV of a VG owned by another host (system ID) or shared through lvmlockd, as LVM2 does', () => {
    const foreign = volumeGroupFromText(vgText({ ...sample, extra: ['system_id = "other-host"'] }, 'disk'));
    expect(foreign.systemId).toBe('other-host');
    const plan = activationPlan(foreign, loops, { localSystemIds: ['this-host'] });
    expect(plan.map((a) => a.action === 'refuse' && a.error.code)).toEqual(['FOREIGN_VG', 'FOREIGN_VG', 'FOREIGN_VG', 'FOREIGN_VG']);
    expect((plan[0] as { error: LvmError }).error.message).toMatch(/belongs to system ID "other-host", not to this host/);
    // Its own host activates it.
    expect(activationPlan(foreign, loops, { localSystemIds: ['other-host'] }).every((a) => a.action === 'create')).toBe(true);
    const shared = volumeGroupFromText(vgText({ ...sample, extra: ['lock_type = "sanlock"', 'lock_args = "1.0.0:lvmlock"'] }, 'disk'));
    expect(activationPlan(shared, loops).map((a) => a.action === 'refuse' && a.error.code)).toEqual(['SHARED_VG', 'SHARED_VG', 'SHARED_VG', 'SHARED_VG']);
    // lock_type "none" is a local VG.
    const local = volumeGroupFromText(vgText({ ...sample, extra: ['lock_type = "none"'] }, 'disk'));
    expect(activationPlan(local, loops).every((a) => a.action === 'create')).toBe(true);
  });

  it('splits a dm name back into VG and LV as LVM2 builds it', () => {
    expect(splitDmName(dmName('vg-x', 'lv--y'))).toEqual({ vg: 'vg-x', lv: 'lv--y' });
    expect(splitDmName('vg0-lv0')).toEqual({ vg: 'vg0', lv: 'lv0' });
    expect(splitDmName('a-b-c')).toBeUndefined();
    expect(splitDmName('plain')).toBeUndefined();
  });

  it('lists thin, thin-pool and raid LVs with their type and refuses them by name; hidden sub-LVs are skipped', () => {
    const spec: VgSpec = { ...sample, lvs: [
      sample.lvs[3]!,
      { name: 'pool', id: id(6), segments: [{ start: 0, count: 2, type: 'thin-pool', extra: ['metadata = "pool_tmeta"', 'pool = "pool_tdata"', 'transaction_id = 1', 'chunk_size = 128', 'discards = "passdown"', 'zero_new_blocks = 1'] }] },
      { name: 'thin1', id: id(7), segments: [{ start: 0, count: 4, type: 'thin', extra: ['thin_pool = "pool"', 'transaction_id = 0', 'device_id = 1'] }] },
      { name: 'mirror', id: id(8), segments: [{ start: 0, count: 1, type: 'raid1', extra: ['device_count = 2', 'region_size = 4096', 'raids = [', '"mirror_rmeta_0", "mirror_rimage_0",', '"mirror_rmeta_1", "mirror_rimage_1"', ']'] }] },
      { name: 'pool_tmeta', id: id(9), status: ['READ', 'WRITE'], segments: [{ start: 0, count: 1, stripes: [['pv0', 0]] }] },
      { name: 'pool_tdata', id: id(10), status: ['READ', 'WRITE'], segments: [{ start: 0, count: 2, stripes: [['pv0', 1]] }] },
    ] };
    const vg = volumeGroupFromText(vgText(spec, 'disk'));
    expect(vg.lvs.map((l) => [l.name, l.type])).toEqual([
      ['lv-y', 'linear'], ['pool', 'thin-pool'], ['thin1', 'thin'], ['mirror', 'raid1'], ['pool_tmeta', 'linear'], ['pool_tdata', 'linear'],
    ]);
    const plan = activationPlan(vg, loops);
    expect(plan.map((a) => [a.lv.name, a.action === 'refuse' ? a.error.segmentType : a.action === 'skip' ? a.reason : a.action])).toEqual([
      ['lv-y', 'create'], ['pool', 'thin-pool'], ['thin1', 'thin'], ['mirror', 'raid1'], ['pool_tmeta', 'hidden'], ['pool_tdata', 'hidden'],
    ]);
    const e = refusal(() => lvTable(vg, lv(vg, 'thin1'), loops));
    expect(e).toMatchObject({ code: 'UNSUPPORTED_SEGMENT', lv: 'thin1', segmentType: 'thin' });
    expect(e.message).toMatch(/LV thin1 is of type thin/);
  });

  it('skips LVs flagged ACTIVATION_SKIP, as vgchange -ay without -K does', () => {
    const spec: VgSpec = { ...sample, lvs: [{ ...sample.lvs[3]!, flags: ['ACTIVATION_SKIP'] }] };
    expect(activationPlan(volumeGroupFromText(vgText(spec, 'disk')), loops)[0]).toMatchObject({ action: 'skip', reason: 'activation-skip' });
  });
});

describe('LVM2 metadata validation', () => {
  const bad = (spec: VgSpec, edit: (t: string) => string = (t) => t): LvmError => refusal(() => volumeGroupFromText(edit(vgText(spec, 'backup'))));

  it('refuses extents past the end of a PV, naming the segment', () => {
    const e = bad({ ...sample, lvs: [{ name: 'big', id: id(1), segments: [{ start: 0, count: 4, stripes: [['pv1', 22]] }] }] });
    expect(e.code).toBe('EXTENTS');
    expect(e.where).toMatch(/^vg-x\/logical_volumes\/big\/segment1\/stripes \(line \d+:\d+\)$/);
    expect(e.message).toMatch(/extents 22\.\.25 of pv1, which has 24/);
  });

  it('refuses two LVs on the same extents', () => {
    const e = bad({ ...sample, lvs: [sample.lvs[0]!, { name: 'dup', id: id(5), segments: [{ start: 0, count: 2, stripes: [['pv0', 11]] }] }] });
    expect(e.code).toBe('OVERLAP');
    expect(e.message).toMatch(/dup segment1 stripe 0 uses extents 11\.\.12 of pv0, which lin segment2 stripe 0 also uses/);
  });

  it('refuses overlapping and gapped segments within an LV', () => {
    const seg = (start: number, count: number, pe: number) => ({ start, count, stripes: [['pv0', pe]] as [string, number][] });
    expect(bad({ ...sample, lvs: [{ name: 'o', id: id(1), segments: [seg(0, 3, 0), seg(2, 2, 10)] }] })).toMatchObject({ code: 'OVERLAP' });
    const gap = bad({ ...sample, lvs: [{ name: 'g', id: id(1), segments: [seg(0, 2, 0), seg(3, 2, 10)] }] });
    expect(gap.code).toBe('GAP');
    expect(gap.where).toMatch(/^vg-x\/logical_volumes\/g\/segment2 /);
  });

  it('refuses stripe counts that disagree with the stripes list or the extent count', () => {
    const spec: VgSpec = { ...sample, lvs: [sample.lvs[1]!] };
    expect(bad(spec, (t) => t.replace('stripe_count = 2', 'stripe_count = 3'))).toMatchObject({ code: 'STRIPES' });
    expect(bad({ ...sample, lvs: [{ ...sample.lvs[1]!, segments: [{ ...sample.lvs[1]!.segments[0]!, count: 5 }] }] }).code).toBe('STRIPES');
    expect(bad(spec, (t) => t.replace(/\t+stripe_size = 128.*\n/, ''))).toMatchObject({ code: 'MISSING_FIELD' });
  });

  it('refuses a wrong segment_count, an unknown volume, a bad uuid, a bad name and a foreign contents field', () => {
    expect(bad(sample, (t) => t.replace('segment_count = 2', 'segment_count = 3')).code).toBe('SEGMENT_COUNT');
    expect(bad(sample, (t) => t.replace('"pv1", 7', '"pv9", 7')).code).toBe('UNKNOWN_VOLUME');
    expect(bad(sample, (t) => t.replace(VG_ID, 'short')).code).toBe('BAD_UUID');
    expect(bad(sample, (t) => t.replace('\tlv-y {', '\t-lv {')).code).toBe('BAD_NAME');
    expect(bad(sample, (t) => t.replace('Text Format Volume Group', 'Something Else')).code).toBe('FORMAT');
    expect(bad(sample, (t) => t.replace(/\t\t\tpe_count = 24.*\n/, '')).code).toBe('MISSING_FIELD');
    expect(bad(sample, (t) => t.replace('pe_start = 2048', 'pe_start = "x"')).code).toBe('BAD_VALUE');
  });
});

/** One PV section as vgcfgbackup prints it (100 MiB, 24 extents of 4 MiB from sector 2048). */
const backupPv = (key: string, id: string, device: string): string => `\t\t${key} {
\t\t\tid = "${id}"
\t\t\tdevice = "${device}"\t# Hint only

\t\t\tstatus = ["ALLOCATABLE"]
\t\t\tflags = []
\t\t\tdev_size = 204800\t# 100 Megabytes
\t\t\tpe_start = 2048
\t\t\tpe_count = 24\t# 96 Megabytes
\t\t}
`;

/** Verbatim in the shape vgcfgbackup prints (export.c: tabs, size comments, "# linear", "# Hint only"). */
const BACKUP = `# Generated by LVM2 version 2.03.16(2) (2022-05-18): Mon Jan  8 10:00:00 2024

contents = "Text Format Volume Group"
version = 1

description = "Created *after* executing 'vgcfgbackup'"

creation_host = "guest"\t# Linux guest 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64
creation_time = 1704708000\t# Mon Jan  8 10:00:00 2024

data-vg {
\tid = "fG3kLm-Xq2P-Wn8r-Ts4v-Yb6h-Jc1d-Zu9eAo"
\tseqno = 4
\tformat = "lvm2"\t\t\t# informational
\tstatus = ["RESIZEABLE", "READ", "WRITE"]
\tflags = []
\textent_size = 8192\t\t# 4 Megabytes
\tmax_lv = 0
\tmax_pv = 0
\tmetadata_copies = 0

\tphysical_volumes {

${backupPv('pv0', 'Aa1Bb2-Cc3D-d4Ee-5Ff6-Gg7H-h8Ii-9Jj0Kk', '/dev/loop0')}
${backupPv('pv1', 'Ll1Mm2-Nn3O-o4Pp-5Qq6-Rr7S-s8Tt-9Uu0Vv', '/dev/loop1')}\t}

\tlogical_volumes {

\t\tfast-lv {
\t\t\tid = "Ww1Xx2-Yy3Z-z4Aa-5Bb6-Cc7D-d8Ee-9Ff0Gg"
\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]
\t\t\tflags = []
\t\t\tcreation_time = 1704708000\t# 2024-01-08 10:00:00 +0000
\t\t\tcreation_host = "guest"
\t\t\tread_ahead = -1\t# None
\t\t\tsegment_count = 1

\t\t\tsegment1 {
\t\t\t\tstart_extent = 0
\t\t\t\textent_count = 6\t# 24 Megabytes

\t\t\t\ttype = "striped"
\t\t\t\tstripe_count = 2
\t\t\t\tstripe_size = 128\t# 64 Kilobytes

\t\t\t\tstripes = [
\t\t\t\t\t"pv0", 0,
\t\t\t\t\t"pv1", 0
\t\t\t\t]
\t\t\t}
\t\t}
\t}

}
`;

describe('a verbatim vgcfgbackup file', () => {
  it('maps its striped LV with a dash in both names', () => {
    const vg = volumeGroupFromText(BACKUP);
    const dev = (pvId: string) => ({ Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk: '7:0', Ll1Mm2Nn3Oo4Pp5Qq6Rr7Ss8Tt9Uu0Vv: '7:1' })[pvId];
    expect(activationPlan(vg, dev)).toMatchObject([{
      action: 'create',
      name: 'data--vg-fast--lv',
      uuid: 'LVM-fG3kLmXq2PWn8rTs4vYb6hJc1dZu9eAoWw1Xx2Yy3Zz4Aa5Bb6Cc7Dd8Ee9Ff0Gg',
      table: [{ start: 0n, length: 49152n, type: 'striped', params: '2 128 7:0 2048 7:1 2048' }],
    }]);
  });
});
