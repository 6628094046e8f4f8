'use strict';
// Issue 5: the freeze window of the atomic operations (from the suspend ioctl starting to the
// resume ioctl returning), next to the same steps from C and to the dmsetup shell sequence.
const fs = require('node:fs');
const path = require('node:path');
const { DMSETUP, GAP_MS, addon, sleep, stats, ratio, runRaw, interleave, linearTarget, tableLine, operations, now } = require('./lib');

async function freeze(ctx) {
  const { ops, why } = operations();
  return {
    replace: await replaceWindow(ctx, ops, why),
    divert: await divertWindow(ctx, ops, why),
  };
}

function writeTables(fx, tag, lines) {
  return lines.map((t, i) => {
    const f = path.join(fx.dir, `${tag}${i}`);
    fs.writeFileSync(f, `${t}\n`);
    return f;
  });
}

/** `n` timed runs of `once` (which returns a window in ns), after one untimed, each after the
 *  same idle gap the C program keeps (see GAP_MS in lib.js). */
async function repeat(n, once) {
  const out = [];
  for (let i = 0; i <= n; i++) {
    await sleep(GAP_MS);
    const ns = await once(i);
    if (i > 0 && ns !== null) out.push(ns);
  }
  return out;
}

function plan(quick) {
  return quick ? { rounds: 2, per: 3, spawnPer: 1 } : { rounds: 12, per: 3, spawnPer: 2 };
}

/** A live device whose table flips between a linear over loop A and one over loop B. */
async function replaceWindow({ lib, fx, raw, loops, sectors, quick, log }, ops, why) {
  const { rounds, per, spawnPer } = plan(quick);
  const tables = loops.map((l) => [linearTarget(l, sectors)]);
  const device = await fx.linear('replace', loops[0], sectors);
  const { native, DmCmd } = addon();
  const [t0, t1] = tables.map((t) => tableLine(t[0]));
  const files = writeTables(fx, 'table', [t0, t1]);
  const haveOps = !!ops && typeof ops.replace === 'function';
  let flip = 0;
  const next = () => tables[++flip & 1];
  const whole = [];

  const measures = [
    {
      key: 'dmLayer',
      // What the dm layer's own calls give, without the operation's bookkeeping around them.
      run: () => repeat(per, async () => {
        await lib.dm.loadRawTable(device, next());
        const t = now();
        await lib.dm.suspend(device);
        await lib.dm.resume(device);
        return Number(now() - t);
      }),
    },
    {
      key: 'addonSync',
      // Diagnostic: the same window through the addon's synchronous entry point (internal).
      run: () => repeat(per, async () => {
        await lib.dm.loadRawTable(device, next());
        const t = now();
        native.dmIoctl(DmCmd.DEV_SUSPEND, { name: device, flags: lib.dm.DmFlag.SUSPEND });
        native.dmIoctl(DmCmd.DEV_SUSPEND, { name: device, flags: 0 });
        return Number(now() - t);
      }),
    },
    { key: 'rawC', run: () => runRaw(raw, ['reload', device, 1, per, t0, t1]) },
    {
      key: 'dmsetup',
      run: () => runRaw(raw, ['spawn', 0, spawnPer,
        DMSETUP, 'suspend', device, ';',
        DMSETUP, 'reload', device, files[0].replace(/0$/, '%d'), ';',
        DMSETUP, 'resume', device]),
    },
  ];
  if (haveOps) {
    measures.unshift({
      key: 'devmapper',
      run: () => repeat(per, async (i) => {
        const t = now();
        const r = await ops.replace(device, next());
        if (i > 0) whole.push(Number(now() - t));
        return r.freezeMs * 1e6;
      }),
    });
  }
  log(`replace: ${rounds} rounds of ${per} x (${haveOps ? 'replace(), ' : ''}dm layer, addon sync, raw C), ${spawnPer} x dmsetup`);
  const s = await interleave(measures, rounds);
  const rows = [
    haveOps
      ? { key: 'devmapper', label: 'devmapper replace(): freeze window it reports', stats: stats(s.devmapper) }
      : { key: 'devmapper', label: 'devmapper replace()', stats: null, why: why ?? 'ops.replace is not a function' },
    { key: 'devmapperCall', label: 'devmapper replace(): whole call (for reference)', stats: stats(whole) },
    { key: 'dmLayer', label: 'dm layer: loadRawTable, then [suspend(), resume()]', stats: stats(s.dmLayer) },
    { key: 'addonSync', label: 'diagnostic: same, addon dmIoctl() sync, internal', stats: stats(s.addonSync) },
    { key: 'rawC', label: 'raw C: TABLE_LOAD, then [suspend, resume]', stats: stats(s.rawC) },
    { key: 'dmsetup', label: 'dmsetup suspend && dmsetup reload && dmsetup resume', stats: stats(s.dmsetup) },
  ].filter((r) => r.stats || r.why);
  const section = { available: haveOps, rows };
  section.ratios = [
    ratio('replace() / raw C', section, 'devmapper', 'rawC', { max: 1.1 }),
    ratio('dm layer window / raw C', section, 'dmLayer', 'rawC', { max: 1.1 }),
    ratio('diagnostic: addon sync window / raw C', section, 'addonSync', 'rawC'),
    ratio('dmsetup sequence / replace()', section, 'dmsetup', 'devmapper', { min: 5 }),
  ];
  return section;
}

/**
 * A live linear device V turned into a snapshot over a read-only base holding V's table (writes go
 * to a COW loop device), then put back; only the switch is timed. Between samples V is restored
 * (discard() for devmapper; the same steps by hand for C and dmsetup), outside the window.
 */
async function divertWindow({ lib, fx, raw, loops, sectors, quick, log }, ops, why) {
  const { rounds, per, spawnPer } = plan(quick);
  const cow = await fx.loop(64 * 1024 * 1024);
  const device = await fx.linear('divert', loops[0], sectors);
  const table = tableLine(linearTarget(loops[0], sectors));
  const cowDev = `${cow.major}:${cow.minor}`;
  const haveOps = !!ops && typeof ops.divert === 'function' && typeof ops.discard === 'function';
  const whole = [];

  // Without udev dmsetup makes no /dev/mapper node: give its base a fixed dev_t to name it by.
  const base = fx.name('sbase');
  const { major } = lib.dm.infoSync(device);
  const minor = Math.max(...lib.dm.listDevicesSync().map((d) => d.minor)) + 100;
  const [snapFile, backFile] = writeTables(fx, 'divert', [`0 ${sectors} snapshot ${major}:${minor} ${cowDev} P 8`, table]);

  const measures = [
    { key: 'rawC', run: () => runRaw(raw, ['divert', device, 1, per, fx.name('cbase'), table, cow.path, cowDev, 'P', 8]) },
    {
      key: 'dmsetup',
      run: () => runRaw(raw, ['spawn', 0, spawnPer,
        '/bin/dd', 'if=/dev/zero', `of=${cow.path}`, 'bs=4096', 'count=1', 'conv=notrunc,fsync', 'status=none', ';',
        DMSETUP, 'create', base, '--readonly', '-j', major, '-m', minor, '--table', table, ';',
        '[', DMSETUP, 'suspend', device, ';', DMSETUP, 'reload', device, snapFile, ';', DMSETUP, 'resume', device, ']',
        DMSETUP, 'reload', device, backFile, ';', DMSETUP, 'suspend', device, ';', DMSETUP, 'resume', device, ';',
        DMSETUP, 'remove', base]),
    },
  ];
  if (haveOps) {
    measures.unshift({
      key: 'devmapper',
      run: () => repeat(per, async (i) => {
        const t = now();
        const r = await ops.divert(device, { cow: cow.path });
        if (i > 0) whole.push(Number(now() - t));
        await ops.discard(device);
        return r.freezeMs * 1e6;
      }),
    });
  }
  log(`divert: ${rounds} rounds of ${per} x (${haveOps ? 'divert() + discard(), ' : ''}raw C), ${spawnPer} x dmsetup`);
  const s = await interleave(measures, rounds);
  const rows = [
    haveOps
      ? { key: 'devmapper', label: 'devmapper divert(): freeze window it reports', stats: stats(s.devmapper) }
      : { key: 'devmapper', label: 'devmapper divert()', stats: null, why: why ?? 'ops.divert / ops.discard are not functions' },
    { key: 'devmapperCall', label: 'devmapper divert(): whole call (for reference)', stats: stats(whole) },
    { key: 'rawC', label: 'raw C: same steps, then [suspend, resume]', stats: stats(s.rawC) },
    { key: 'dmsetup', label: 'dmsetup suspend && dmsetup reload && dmsetup resume', stats: stats(s.dmsetup) },
  ].filter((r) => r.stats || r.why);
  const section = { available: haveOps, rows };
  section.ratios = [
    ratio('divert() / raw C', section, 'devmapper', 'rawC', { max: 1.1 }),
    ratio('dmsetup sequence / divert()', section, 'dmsetup', 'devmapper', { min: 5 }),
  ];
  return section;
}

module.exports = { freeze };
