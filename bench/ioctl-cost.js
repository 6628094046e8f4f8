'use strict';
// Issue 3: what one device-mapper call costs through devmapper, next to the same ioctl from C and
// next to spawning dmsetup. Two calls: DEV_STATUS (info / infoSync) and a suspend + resume cycle.
const { DMSETUP, GAP_MS, addon, stats, ratio, timeSync, timeAsync, batchFor, interleave, paced, runRaw } = require('./lib');

async function ioctlCost({ lib, raw, device, quick, log }) {
  const { dm } = lib;
  const { native, DmCmd } = addon();
  const rounds = quick ? 1 : 6;
  const batches = quick ? 5 : 6;
  const spawnPer = quick ? 5 : 4;

  // DEV_STATUS
  const sync = () => dm.infoSync(device);
  const asyncInfo = () => dm.info(device);
  // Diagnostic: the addon's DEV_STATUS alone, without the DeviceInfo the library builds from it.
  const bare = () => native.dmStatus(0, device);
  const b = { sync: await batchFor(sync, 10), async: await batchFor(asyncInfo, 10), bare: await batchFor(bare, 10), raw: rawBatch(raw, 'status', device, 10) };
  log(`DEV_STATUS: ${rounds} rounds of ${batches} batches of ${b.sync} (infoSync), ${b.async} (info), ${b.raw} (C) calls; ${spawnPer} x dmsetup info`);
  const s = await interleave([
    { key: 'sync', run: () => timeSync(sync, { warmup: b.sync, batches, batch: b.sync }) },
    { key: 'async', run: () => timeAsync(asyncInfo, { warmup: b.async, batches, batch: b.async }) },
    { key: 'bare', run: () => timeSync(bare, { warmup: b.bare, batches, batch: b.bare }) },
    { key: 'raw', run: () => runRaw(raw, ['status', device, b.raw, batches, b.raw]) },
    { key: 'dmsetup', run: () => runRaw(raw, ['spawn', 1, spawnPer, DMSETUP, 'info', device]) },
  ], rounds);
  const status = {
    rows: [
      { key: 'devmapperSync', label: 'devmapper dm.infoSync()', stats: stats(s.sync) },
      { key: 'devmapperAsync', label: 'devmapper await dm.info()', stats: stats(s.async) },
      { key: 'rawC', label: 'raw C ioctl (same 16 KiB buffer)', stats: stats(s.raw) },
      { key: 'dmsetup', label: 'dmsetup info NAME (spawned)', stats: stats(s.dmsetup) },
      { key: 'addonBare', label: 'diagnostic: addon dmStatus() alone, internal', stats: stats(s.bare) },
    ],
  };
  status.ratios = [
    ratio('dm.infoSync() / raw C', status, 'devmapperSync', 'rawC', { max: 1.5 }),
    ratio('await dm.info() / raw C', status, 'devmapperAsync', 'rawC', { max: 1.5 }),
    ratio('dmsetup info / dm.infoSync()', status, 'dmsetup', 'devmapperSync', { min: 100 }),
    ratio('dmsetup info / await dm.info()', status, 'dmsetup', 'devmapperAsync', { min: 100 }),
    ratio('diagnostic: addon dmStatus() alone / raw C', status, 'addonBare', 'rawC'),
  ];

  // suspend + resume: the library's one-call cycle (both ioctls on one worker thread), and the same
  // as two awaited calls
  const inside = [];
  const oneCall = async (timed) => {
    const r = await dm.suspendResumeCycle([device]);
    if (timed) inside.push(r.elapsedNs);
  };
  const cycle = async () => {
    await dm.suspend(device);
    await dm.resume(device);
  };
  // Diagnostic: the addon's synchronous entry point (internal, not public API) for the same two
  // ioctls, to tell the cost of the async hop from the cost of the rest.
  const syncCycle = () => {
    native.dmIoctl(DmCmd.DEV_SUSPEND, { name: device, flags: dm.DmFlag.SUSPEND });
    native.dmIoctl(DmCmd.DEV_SUSPEND, { name: device, flags: 0 });
  };
  const n = quick ? 5 : 8;
  log(`suspend+resume: ${rounds} rounds of ${n} cycles each (devmapper x 2, addon sync, C), ${GAP_MS} ms apart; ${spawnPer} x dmsetup`);
  const t = await interleave([
    { key: 'oneCall', run: () => paced(oneCall, { warmup: 1, n }) },
    { key: 'lib', run: () => paced(cycle, { warmup: 1, n }) },
    { key: 'sync', run: () => paced(syncCycle, { warmup: 1, n }) },
    { key: 'raw', run: () => runRaw(raw, ['suspres', device, 1, n, 1]) },
    { key: 'dmsetup', run: () => runRaw(raw, ['spawn', 1, spawnPer, DMSETUP, 'suspend', device, ';', DMSETUP, 'resume', device]) },
  ], rounds);
  const suspendResume = {
    rows: [
      { key: 'oneCall', label: 'devmapper await dm.suspendResumeCycle([dev])', stats: stats(t.oneCall) },
      { key: 'oneCallInside', label: 'diagnostic: the same, its two ioctls alone', stats: stats(inside) },
      { key: 'devmapper', label: 'devmapper await suspend(); await resume()', stats: stats(t.lib) },
      { key: 'addonSync', label: 'diagnostic: addon dmIoctl() sync, internal', stats: stats(t.sync) },
      { key: 'rawC', label: 'raw C suspend + resume ioctls', stats: stats(t.raw) },
      { key: 'dmsetup', label: 'dmsetup suspend && dmsetup resume', stats: stats(t.dmsetup) },
    ],
  };
  suspendResume.ratios = [
    ratio('suspendResumeCycle() / raw C', suspendResume, 'oneCall', 'rawC', { max: 1.5 }),
    ratio('dmsetup / suspendResumeCycle()', suspendResume, 'dmsetup', 'oneCall', { min: 100 }),
    ratio('diagnostic: its two ioctls alone / raw C', suspendResume, 'oneCallInside', 'rawC'),
    ratio('suspend() + resume() / raw C', suspendResume, 'devmapper', 'rawC', { max: 1.5 }),
    ratio('diagnostic: addon sync / raw C', suspendResume, 'addonSync', 'rawC'),
    ratio('dmsetup / suspend() + resume()', suspendResume, 'dmsetup', 'devmapper', { min: 100 }),
  ];
  return { status, suspendResume };
}

/** Calls per C batch for ~targetMs batches, from one short C run. */
function rawBatch(raw, mode, device, targetMs) {
  const trial = runRaw(raw, [mode, device, 5, 1, 20]);
  return Math.max(1, Math.round((targetMs * 1e6) / trial[0]));
}

module.exports = { ioctlCost };
