'use strict';
// Issue 3: what one device-mapper call costs through devmapper, next to the same ioctl from C and
// next to spawning dmsetup. Two calls: DEV_STATUS (info / infoSync) and a suspend + resume cycle.
const { DMSETUP, stats, timeSync, timeAsync, batchFor, runRaw } = require('./lib');
const { userspaceCost } = require('./userspace');

/** Rounds alternate devmapper and C, so that a noisy neighbour hits both alike. */
async function ioctlCost({ lib, raw, device, quick, log }) {
  const { dm } = lib;
  const rounds = quick ? 1 : 3;
  const batches = quick ? 5 : 12;
  const spawnIter = quick ? 5 : 20;

  // DEV_STATUS
  const sync = () => dm.infoSync(device);
  const asyncInfo = () => dm.info(device);
  const plan = {
    sync: await batchFor(sync, 10),
    async: await batchFor(asyncInfo, 10),
    raw: rawBatch(raw, 'status', device, 10),
  };
  log(`DEV_STATUS: batches of ${plan.sync} (infoSync), ${plan.async} (info), ${plan.raw} (C) calls`);
  const s = { sync: [], async: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    s.sync.push(...timeSync(sync, { warmup: plan.sync, batches, batch: plan.sync }));
    s.raw.push(...runRaw(raw, ['status', device, plan.raw, batches, plan.raw]));
    s.async.push(...(await timeAsync(asyncInfo, { warmup: plan.async, batches, batch: plan.async })));
  }
  log(`DEV_STATUS: dmsetup info x ${spawnIter}`);
  const dmsetupInfo = runRaw(raw, ['spawn', 2, spawnIter, DMSETUP, 'info', device]);
  const status = {
    rows: [
      { key: 'devmapperSync', label: 'devmapper dm.infoSync()', stats: stats(s.sync) },
      { key: 'devmapperAsync', label: 'devmapper await dm.info()', stats: stats(s.async) },
      { key: 'rawC', label: 'raw C ioctl (same 16 KiB buffer)', stats: stats(s.raw) },
      { key: 'dmsetup', label: 'dmsetup info NAME (spawned)', stats: stats(dmsetupInfo) },
      { key: 'devmapperUserspace', label: 'devmapper user-space work alone (no ioctl)', stats: await userspaceCost({ quick }) },
    ],
  };
  status.ratios = [
    ratio('dm.infoSync() / raw C', status, 'devmapperSync', 'rawC', { max: 1.5 }),
    ratio('await dm.info() / raw C', status, 'devmapperAsync', 'rawC', { max: 1.5 }),
    ratio('dmsetup info / dm.infoSync()', status, 'dmsetup', 'devmapperSync', { min: 100 }),
    ratio('dmsetup info / await dm.info()', status, 'dmsetup', 'devmapperAsync', { min: 100 }),
  ];

  // suspend + resume
  const cycle = async () => {
    await dm.suspend(device);
    await dm.resume(device);
  };
  const cyclePlan = { lib: await batchFor(cycle, 20), raw: rawBatch(raw, 'suspres', device, 20) };
  log(`suspend+resume: batches of ${cyclePlan.lib} (devmapper), ${cyclePlan.raw} (C) cycles`);
  const c = { lib: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    c.lib.push(...(await timeAsync(cycle, { warmup: cyclePlan.lib, batches, batch: cyclePlan.lib })));
    c.raw.push(...runRaw(raw, ['suspres', device, cyclePlan.raw, batches, cyclePlan.raw]));
  }
  log(`suspend+resume: dmsetup suspend ; dmsetup resume x ${spawnIter}`);
  const dmsetupCycle = runRaw(raw, ['spawn', 2, spawnIter, DMSETUP, 'suspend', device, ';', DMSETUP, 'resume', device]);
  const suspendResume = {
    rows: [
      { key: 'devmapper', label: 'devmapper await suspend(); await resume()', stats: stats(c.lib) },
      { key: 'rawC', label: 'raw C suspend + resume ioctls', stats: stats(c.raw) },
      { key: 'dmsetup', label: 'dmsetup suspend && dmsetup resume', stats: stats(dmsetupCycle) },
    ],
  };
  suspendResume.ratios = [
    ratio('devmapper / raw C', suspendResume, 'devmapper', 'rawC', { max: 1.5 }),
    ratio('dmsetup / devmapper', suspendResume, 'dmsetup', 'devmapper', { min: 100 }),
  ];
  return { status, suspendResume };
}

/** Calls per C batch for ~targetMs batches, from one short C run. */
function rawBatch(raw, mode, device, targetMs) {
  const trial = runRaw(raw, [mode, device, 20, 1, 50]);
  return Math.max(1, Math.round((targetMs * 1e6) / trial[0]));
}

/** num/den of the medians; `max` or `min` is the target the ratio must meet. */
function ratio(label, section, num, den, target) {
  const get = (k) => section.rows.find((r) => r.key === k)?.stats;
  const a = get(num);
  const b = get(den);
  if (!a || !b) return { label, value: null, target, met: null };
  const value = a.medianNs / b.medianNs;
  const met = target.max !== undefined ? value <= target.max : value >= target.min;
  return { label, value, p90Value: a.p90Ns / b.p90Ns, target, met };
}

module.exports = { ioctlCost, ratio };
