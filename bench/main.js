'use strict';
// Runs every benchmark where /dev/mapper/control works and returns one result object (see
// report.js for how it is printed). Devices and loop devices are removed whatever happens.
const os = require('node:os');
const { MiB, GAP_MS, library, compileRaw, Fixture } = require('./lib');
const { ioctlCost } = require('./ioctl-cost');
const { freeze } = require('./freeze');
const { lvmActivate } = require('./lvm-activate');
const { threadUse } = require('./threads');
const { backupBench } = require('./backup');
const { migrateBench } = require('./migrate');

const SIZE = 64 * MiB;

async function runBenchmarks({ quick = false, where = {}, log = (m) => process.stderr.write(`[bench] ${m}\n`) } = {}) {
  const lib = library();
  const fx = new Fixture(lib);
  const stop = (sig) => {
    log(`${sig}: cleaning up`);
    fx.cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const started = Date.now();
  const result = {
    date: new Date().toISOString(),
    where: { kernel: os.release(), node: process.version, cpus: os.cpus().length, ...where },
    device: { target: 'linear', sizeMiB: SIZE / MiB, backing: 'loop device on a sparse file' },
    // Every timed suspend (all contenders alike) follows this idle gap: see GAP_MS in lib.js.
    suspendGapMs: GAP_MS,
  };
  let problems = [];
  try {
    log('compiling bench/raw_ioctl.c (cc -O2)');
    const raw = compileRaw(fx.dir);
    const loops = [await fx.loop(SIZE), await fx.loop(SIZE)];
    const sectors = SIZE / 512;
    const device = await fx.linear('a', loops[0], sectors);
    const ctx = { lib, fx, raw, loops, sectors, device, quick, log };
    log('A. per-call cost');
    result.ioctl = await ioctlCost(ctx);
    log('B. freeze windows');
    result.freeze = await freeze(ctx);
    log('C. LVM activation');
    result.lvm = await lvmActivate(ctx);
    result.threads = await threadUse(ctx);
    log('E. backup');
    result.backup = await backupBench(ctx);
    log('F. migration');
    result.migrate = await migrateBench(ctx);
  } finally {
    problems = await fx.cleanup();
    for (const p of problems) log(`cleanup: ${p}`);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (problems.length) result.cleanupProblems = problems;
  result.seconds = Math.round((Date.now() - started) / 1000);
  return result;
}

module.exports = { runBenchmarks };
