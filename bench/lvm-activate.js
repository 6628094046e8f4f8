'use strict';
// Issue 12: activating a VG of 200 LVs, `dmctl lvm activate` against `vgchange -ay` (Debian's
// lvm2, fetched by the rig), both without udev, side by side in interleaved rounds. The VG is made
// once with lvm2: an empty VG, then 200 one-extent linear LVs written into its metadata by
// vgcfgrestore (200 lvcreate calls would take minutes in the guest).
const { spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, MiB, stats, ratio, now } = require('./lib');
const { lvm2 } = require('../scripts/rig/lvm2');

const LVS = 200;
const ID_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh LVM2 id in its printed form (6-4-4-4-4-4-6). */
function newId() {
  const chars = [...randomBytes(32)].map((b) => ID_CHARS[b % ID_CHARS.length]);
  return [6, 4, 4, 4, 4, 4, 6].map((n) => chars.splice(0, n).join('')).join('-');
}

function lvSection(i) {
  return `lv${i} {\nid = "${newId()}"\nstatus = ["READ", "WRITE", "VISIBLE"]\nflags = []\nsegment_count = 1\n`
    + `segment1 {\nstart_extent = 0\nextent_count = 1\ntype = "striped"\nstripe_count = 1\nstripes = ["pv0", ${i}]\n}\n}\n`;
}

/** The backup text with the LVs put after the VG's physical_volumes section. */
function withLvs(text) {
  const at = text.indexOf('physical_volumes {');
  let depth = 0;
  let end = at;
  for (; end < text.length; end++) {
    if (text[end] === '{') depth++;
    else if (text[end] === '}' && --depth === 0) break;
  }
  const lvs = Array.from({ length: LVS }, (_, i) => lvSection(i)).join('');
  return `${text.slice(0, end + 1)}\nlogical_volumes {\n${lvs}}\n${text.slice(end + 1)}`;
}

/** Nanoseconds `fn` took. */
function timed(fn) {
  const t0 = now();
  fn();
  return Number(now() - t0);
}

function dmctl(args) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'lvm', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dmctl lvm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

async function lvmActivate({ lib, fx, quick, log }) {
  const rounds = quick ? 2 : 5;
  const pv = await fx.loop((LVS + 8) * MiB);
  const vg = `${fx.prefix}vg`;
  const lvm = lvm2(fx.dir, [pv.path]);
  lvm.run(['pvcreate', '-y', pv.path]);
  lvm.run(['vgcreate', '-s', '1m', vg, pv.path]);
  const file = path.join(fx.dir, 'vg.backup');
  lvm.run(['vgcfgbackup', '-f', file, vg]);
  fs.writeFileSync(file, withLvs(fs.readFileSync(file, 'utf8')));
  lvm.run(['vgcfgrestore', '-f', file, vg]);
  const count = () => lib.dm.listDevicesSync().filter((d) => d.name.startsWith(vg.replace(/-/g, '--'))).length;
  const samples = { dmctl: [], vgchange: [], library: [], kernel: [], startup: [] };
  // Where dmctl's time goes: the library in this process (no start-up), the 600 ioctls alone in
  // one native call (the kernel's share, which vgchange pays too), and dmctl's start-up.
  const L = lib.lvm;
  const floor = async () => {
    const vgModel = L.findVolumeGroup(L.scanLvm([pv.path]), vg);
    const plan = L.activationPlan(vgModel, () => `${pv.major}:${pv.minor}`).filter((a) => a.action === 'create');
    const t0 = now();
    await lib.dm.createDevices(plan.map((a) => ({ name: a.name, uuid: a.uuid, table: a.table })));
    samples.kernel.push(Number(now() - t0));
  };
  log(`${LVS} LVs: ${rounds} rounds of vgchange -ay and dmctl lvm activate, each followed by its own deactivation`);
  try {
    for (let r = 0; r < rounds; r++) {
      for (const who of r % 2 ? ['dmctl', 'vgchange', 'library', 'kernel'] : ['vgchange', 'dmctl', 'kernel', 'library']) {
        // Both spawned from here the same way; lvm2 reads only this PV (its filter), dmctl too (--device).
        if (who === 'vgchange') samples.vgchange.push(timed(() => lvm.run(['vgchange', '-ay', vg])));
        else if (who === 'dmctl') samples.dmctl.push(timed(() => dmctl(['activate', vg, '--device', pv.path])));
        else if (who === 'library') {
          const t0 = now();
          await L.activateVolumeGroup(vg, { devices: [pv.path] });
          samples.library.push(Number(now() - t0));
        } else await floor();
        if (count() !== LVS) throw new Error(`${who} activated ${count()} of ${LVS} LVs`);
        if (who === 'vgchange') lvm.run(['vgchange', '-an', vg]);
        else await L.deactivateVolumeGroup(vg, { devices: [pv.path] });
      }
      samples.startup.push(timed(() => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), '--version'])));
    }
  } finally {
    lvm.tryRun(['vgchange', '-an', vg]);
  }
  const section = {
    rows: [
      { key: 'dmctl', label: `dmctl lvm activate (${LVS} LVs, spawned)`, stats: stats(samples.dmctl) },
      { key: 'vgchange', label: `vgchange -ay (${LVS} LVs, spawned)`, stats: stats(samples.vgchange) },
      { key: 'library', label: 'devmapper activateVolumeGroup(), in-process', stats: stats(samples.library) },
      { key: 'kernel', label: `diagnostic: the ${LVS * 3} ioctls alone, one native call`, stats: stats(samples.kernel) },
      { key: 'startup', label: 'diagnostic: dmctl --version (start-up only)', stats: stats(samples.startup) },
    ],
  };
  section.ratios = [
    ratio('vgchange -ay / dmctl lvm activate', section, 'vgchange', 'dmctl', { min: 5 }),
    ratio('vgchange -ay / activateVolumeGroup() in-process', section, 'vgchange', 'library'),
    ratio('vgchange -ay / the kernel\'s share alone (best possible)', section, 'vgchange', 'kernel'),
  ];
  return section;
}

module.exports = { lvmActivate, withLvs };
