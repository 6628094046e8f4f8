'use strict';
// Issue 5: the freeze window of the atomic operations (from the suspend ioctl starting to the
// resume ioctl returning), next to the same steps from C and to the dmsetup shell sequence.
const fs = require('node:fs');
const path = require('node:path');
const { DMSETUP, stats, runRaw, linearTarget, tableLine, operations, now } = require('./lib');
const { ratio } = require('./ioctl-cost');

async function freeze(ctx) {
  const { ops, why } = operations();
  return {
    replace: await replaceWindow(ctx, ops, why),
    divert: { available: false, why: why ?? 'not written yet', rows: [], ratios: [] },
  };
}

/** A live device whose table flips between a linear over loop A and one over loop B. */
async function replaceWindow({ lib, fx, raw, loops, sectors, quick, log }, ops, why) {
  const iter = quick ? 5 : 40;
  const spawnIter = quick ? 3 : 15;
  const tables = loops.map((l) => [linearTarget(l, sectors)]);
  const device = await fx.linear('replace', loops[0], sectors);
  const rows = [];

  if (ops && typeof ops.replace === 'function') {
    log(`replace: ops.replace x ${iter}`);
    const reported = [];
    const outside = [];
    for (let i = 0; i < iter + 3; i++) {
      const t0 = now();
      const r = await ops.replace(device, tables[(i + 1) & 1]);
      const t = Number(now() - t0);
      if (i < 3) continue;
      reported.push(r.freezeMs * 1e6);
      outside.push(t);
    }
    rows.push({ key: 'devmapper', label: 'devmapper replace(): freeze window it reports', stats: stats(reported) });
    rows.push({ key: 'devmapperCall', label: 'devmapper replace(): whole call (for reference)', stats: stats(outside) });
  } else {
    rows.push({ key: 'devmapper', label: 'devmapper replace()', stats: null, why: why ?? 'ops.replace is not a function' });
  }

  log(`replace: raw C load + suspend + resume x ${iter}`);
  const [t0, t1] = tables.map((t) => tableLine(t[0]));
  rows.push({ key: 'rawC', label: 'raw C: TABLE_LOAD, then [suspend, resume]', stats: stats(runRaw(raw, ['reload', device, 3, iter, t0, t1])) });

  log(`replace: dmsetup suspend && reload && resume x ${spawnIter}`);
  const files = [t0, t1].map((t, i) => {
    const f = path.join(fx.dir, `table${i}`);
    fs.writeFileSync(f, `${t}\n`);
    return f;
  });
  const seq = runRaw(raw, ['spawn', 1, spawnIter,
    DMSETUP, 'suspend', device, ';',
    DMSETUP, 'reload', device, files[0].replace(/0$/, '%d'), ';',
    DMSETUP, 'resume', device]);
  rows.push({ key: 'dmsetup', label: 'dmsetup suspend && dmsetup reload && dmsetup resume', stats: stats(seq) });

  const section = { available: !!ops?.replace, rows };
  section.ratios = [
    ratio('replace() / raw C', section, 'devmapper', 'rawC', { max: 1.1 }),
    ratio('dmsetup sequence / replace()', section, 'dmsetup', 'devmapper', { min: 5 }),
  ];
  return section;
}

module.exports = { freeze };
