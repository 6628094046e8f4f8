'use strict';
// Issue 13: backup of a dense volume by devmapper (ops.backup, and dmctl backup) against the
// recipe by hand: a dmsetup snapshot (base, snapshot-origin, snapshot over a loop-device COW),
// `dd bs=1M conv=sparse` of the snapshot, the snapshot removed. Rounds alternate so that both
// meet the same page cache and disk; the image is deleted and caches dropped between rounds.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, DMSETUP, MiB, now } = require('./lib');

const SIZE = 200 * MiB;

function sh(script) {
  return execFileSync('sh', ['-ec', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Fills the device with non-zero bytes (a dense volume: no holes to skip). */
function fillDense(dev, size = SIZE) {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i += 16) block.write(`dense:${i}`.padEnd(16, '#'), i);
  const fd = fs.openSync(dev, 'r+');
  try {
    for (let off = 0; off < size; off += MiB) fs.writeSync(fd, block, 0, MiB, off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The shell recipe, as lvmbackup-style scripts do it with dmsetup: a COW file on a loop device,
 *  the snapshot, dd, the snapshot and the COW removed (what ops.backup does too). */
function recipe(v, table, cowFile, img) {
  const sectors = SIZE / 512;
  const base = `${v}-hbase`;
  const snap = `${v}-hsnap`;
  return [
    `truncate -s 64M ${cowFile}`,
    `COW=$(losetup -f --show ${cowFile})`,
    `${DMSETUP} create ${base} --table '${table}'`,
    `${DMSETUP} suspend ${v}`,
    `${DMSETUP} reload ${v} --table "0 ${sectors} snapshot-origin /dev/mapper/${base}"`,
    `${DMSETUP} create ${snap} --table "0 ${sectors} snapshot /dev/mapper/${base} $COW P 8"`,
    `${DMSETUP} resume ${v}`,
    `dd if=/dev/mapper/${snap} of=${img} bs=1M conv=sparse status=none`,
    `sync ${img}`,
    `${DMSETUP} suspend ${v}`,
    `${DMSETUP} reload ${v} --table '${table}'`,
    `${DMSETUP} remove ${snap}`,
    `${DMSETUP} resume ${v}`,
    `${DMSETUP} remove ${base}`,
    'losetup -d $COW',
    `rm ${cowFile}`,
  ].join('\n');
}

const dropCaches = () => fs.writeFileSync('/proc/sys/vm/drop_caches', '3');

/** CPU seconds (user + system) of this process and of its children that have been waited for. */
function cpuSeconds() {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // Fields 14-17 of stat (utime, stime, cutime, cstime), in clock ticks of 1/100 s.
  return f.slice(11, 15).reduce((a, x) => a + Number(x), 0) / 100;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function backupBench({ lib, fx, quick, log }) {
  if (!DMSETUP) return { skipped: 'dmsetup is not installed' };
  const { backup } = require(path.join(ROOT, 'dist', 'backup'));
  const loopDev = await fx.loop(SIZE);
  const v = await fx.linear('bk', loopDev, SIZE / 512);
  const dev = lib.dm.nodePath(v);
  fillDense(dev);
  const table = `0 ${SIZE / 512} linear ${loopDev.major}:${loopDev.minor} 0`;
  fx.adopt(`${v}-hbase`);
  fx.adopt(`${v}-hsnap`);
  const img = path.join(fx.dir, 'image');
  const cli = [process.execPath, path.join(ROOT, 'dist', 'cli', 'main.js')];
  const rounds = quick ? 1 : 3;
  const times = { library: [], cli: [], recipe: [] };
  const cpuS = { library: [], cli: [], recipe: [] };
  let last;
  for (let r = 0; r < rounds; r++) {
    for (const who of ['recipe', 'library', 'cli']) {
      fs.rmSync(img, { force: true });
      dropCaches();
      const c0 = cpuSeconds();
      const t = now();
      if (who === 'recipe') sh(recipe(v, table, path.join(fx.dir, 'cow'), img));
      else if (who === 'library') last = await backup(v, { to: img });
      else execFileSync(cli[0], [cli[1], 'backup', v, '--to', img, '--quiet'], { stdio: 'ignore' });
      const ms = Number(now() - t) / 1e6;
      times[who].push(ms);
      cpuS[who].push(cpuSeconds() - c0);
      log(`E. backup round ${r + 1}: ${who} ${ms.toFixed(0)} ms`);
    }
  }
  fs.rmSync(img, { force: true });
  const m = { library: median(times.library), cli: median(times.cli), recipe: median(times.recipe) };
  return {
    sizeMiB: SIZE / MiB, rounds, medianMs: m,
    ratio: { library: m.library / m.recipe, cli: m.cli / m.recipe },
    target: 1.0,
    cpuSeconds: { library: median(cpuS.library), cli: median(cpuS.cli), recipe: median(cpuS.recipe) },
    lastResult: last && { bytesWritten: String(last.bytesWritten), holes: String(last.holes), checksum: last.checksum },
  };
}

module.exports = { backupBench, fillDense, cpuSeconds, median };
