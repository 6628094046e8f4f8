'use strict';
// Issue 13: migration of a dense volume to another disk by devmapper (ops.migrate) against the
// recipe by hand: a dmsetup `mirror` table over the old table and the new disk, the volume switched
// onto it, a shell loop polling `dmsetup status` until every region is in sync, the volume switched
// onto the new disk, the helpers removed. Also: the CPU the waiting process uses while the kernel
// copies. Between rounds the volume is put back on its old disk (untimed).
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, DMSETUP, MiB, now } = require('./lib');
const { fillDense, cpuSeconds, median } = require('./backup');

const SIZE = 200 * MiB;
const SECTORS = SIZE / 512;

function sh(script) {
  return execFileSync('sh', ['-ec', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function recipe(v, table, dest) {
  const old = `${v}-hold`;
  const mir = `${v}-hmir`;
  return [
    `${DMSETUP} create ${old} --table '${table}'`,
    `${DMSETUP} create ${mir} --table "0 ${SECTORS} mirror core 1 1024 2 /dev/mapper/${old} 0 ${dest} 0"`,
    `${DMSETUP} reload ${v} --table "0 ${SECTORS} linear /dev/mapper/${mir} 0"`,
    `${DMSETUP} suspend ${v}`,
    `${DMSETUP} resume ${v}`,
    `while :; do set -- $(${DMSETUP} status ${mir}); [ "\${7%/*}" = "\${7#*/}" ] && break; sleep 0.5; done`,
    `${DMSETUP} reload ${v} --table "0 ${SECTORS} linear ${dest} 0"`,
    `${DMSETUP} suspend ${v}`,
    `${DMSETUP} resume ${v}`,
    `${DMSETUP} remove ${mir}`,
    `${DMSETUP} remove ${old}`,
  ].join('\n');
}

async function migrateBench({ lib, fx, quick, log }) {
  if (!DMSETUP) return { skipped: 'dmsetup is not installed' };
  const { migrate } = require(path.join(ROOT, 'dist', 'ops'));
  const from = await fx.loop(SIZE);
  const to = await fx.loop(SIZE);
  const v = await fx.linear('mv', from, SECTORS);
  fillDense(lib.dm.nodePath(v), SIZE);
  const table = `0 ${SECTORS} linear ${from.major}:${from.minor} 0`;
  for (const n of ['hold', 'hmir', 'mv-dmmove', 'mv-dmold']) fx.adopt(`${v}-${n}`);
  const back = () => sh(`${DMSETUP} reload ${v} --table '${table}'\n${DMSETUP} suspend ${v}\n${DMSETUP} resume ${v}`);
  const rounds = quick ? 1 : 3;
  const times = { library: [], recipe: [] };
  const cpuPct = { library: [], recipe: [] };
  const waitCpu = [];
  for (let r = 0; r < rounds; r++) {
    for (const who of ['recipe', 'library']) {
      const c0 = cpuSeconds();
      const t = now();
      if (who === 'recipe') sh(recipe(v, table, to.path));
      else await migrate(v, { to: to.path });
      const ms = Number(now() - t) / 1e6;
      times[who].push(ms);
      cpuPct[who].push((100 * (cpuSeconds() - c0)) / (ms / 1000));
      log(`F. migrate round ${r + 1}: ${who} ${ms.toFixed(0)} ms`);
      back();
    }
  }
  // The waiting process's CPU while the kernel copies, over a copy long enough to hold many polls:
  // the new disk's writes delayed 20 ms (a delay device), measured from the first progress report
  // to the last.
  const slow = fx.name('mv-slow');
  await lib.dm.create(slow);
  fx.adopt(slow);
  await lib.dm.loadRawTable(slow, [{ start: 0n, length: BigInt(SECTORS), type: 'delay', params: `${to.major}:${to.minor} 0 0 ${to.major}:${to.minor} 0 20` }]);
  await lib.dm.resume(slow);
  for (let r = 0; r < rounds; r++) {
    let first;
    let last;
    await migrate(v, { to: lib.dm.nodePath(slow), onProgress: () => {
      const at = [cpuSeconds(), now()];
      first ??= at;
      last = at;
    } });
    waitCpu.push((100 * (last[0] - first[0])) / (Number(last[1] - first[1]) / 1e9));
    log(`F. migrate, waiting over a slow disk: ${(Number(last[1] - first[1]) / 1e6).toFixed(0)} ms, CPU ${waitCpu.at(-1).toFixed(2)}%`);
    back();
  }
  const m = { library: median(times.library), recipe: median(times.recipe) };
  return {
    sizeMiB: SIZE / MiB, rounds, medianMs: m, ratio: m.library / m.recipe, target: 1.0,
    cpuPercent: { library: median(cpuPct.library), recipe: median(cpuPct.recipe), libraryWaiting: median(waitCpu) }, cpuTarget: 1.0,
  };
}

module.exports = { migrateBench };
