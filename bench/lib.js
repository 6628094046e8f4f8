'use strict';
// Shared pieces of the benchmarks: statistics, timing loops, the raw C baseline, and the loop +
// dm devices they run on (always cleaned up, also when a benchmark fails).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const DMSETUP = '/usr/sbin/dmsetup';
const MiB = 1024 * 1024;

/** The built library (npm run bench builds it first): the main entry, and its raw layer as `dm`. */
function library() {
  return { ...require(path.join(ROOT, 'dist')), dm: require(path.join(ROOT, 'dist', 'api', 'dm')) };
}

/** The addon's typed interface (internal): for the diagnostic rows that bypass the dm layer. */
function addon() {
  return require(path.join(ROOT, 'dist', 'native'));
}

/** src/ops once it exists and is built; otherwise why not. */
function operations() {
  const file = path.join(ROOT, 'dist', 'ops', 'index.js');
  if (!fs.existsSync(file)) return { why: 'src/ops is not in this tree (or not built): dist/ops/index.js is missing' };
  try {
    return { ops: require(file) };
  } catch (e) {
    return { why: `dist/ops/index.js does not load: ${e.message}` };
  }
}

const now = () => process.hrtime.bigint();

/** Median, p90 (nearest rank), min and mean of per-call nanoseconds. */
function stats(samplesNs) {
  const s = [...samplesNs].map(Number).sort((a, b) => a - b);
  if (!s.length) return null;
  const rank = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return {
    n: s.length,
    medianNs: rank(0.5),
    p10Ns: rank(0.1),
    p90Ns: rank(0.9),
    minNs: s[0],
    meanNs: Math.round(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

/** num/den of the medians; `max` or `min` is the target the ratio must meet (none: diagnostic). */
function ratio(label, section, num, den, target) {
  const get = (k) => section.rows.find((r) => r.key === k)?.stats;
  const a = get(num);
  const b = get(den);
  if (!a || !b) return { label, value: null, target, met: null };
  const value = a.medianNs / b.medianNs;
  const met = !target ? null : target.max !== undefined ? value <= target.max : value >= target.min;
  return { label, value, p10Value: a.p10Ns / b.p10Ns, p90Value: a.p90Ns / b.p90Ns, target, met };
}

/** Batches of `batch` calls, each batch timed as a whole: one sample = ns per call. Timing each
 *  call alone would add the clock's own cost to calls that take microseconds. */
function timeSync(fn, { warmup, batches, batch }) {
  for (let i = 0; i < warmup; i++) fn();
  const out = [];
  for (let b = 0; b < batches; b++) {
    const t0 = now();
    for (let i = 0; i < batch; i++) fn();
    out.push(Number(now() - t0) / batch);
  }
  return out;
}

async function timeAsync(fn, { warmup, batches, batch }) {
  for (let i = 0; i < warmup; i++) await fn();
  const out = [];
  for (let b = 0; b < batches; b++) {
    const t0 = now();
    for (let i = 0; i < batch; i++) await fn();
    out.push(Number(now() - t0) / batch);
  }
  return out;
}

/** Calls per batch so that one batch lasts about `targetMs`, from a short trial run. */
async function batchFor(fn, targetMs) {
  let n = 0;
  const t0 = now();
  while (Number(now() - t0) < 30e6 || n < 3) {
    await fn();
    n++;
  }
  const perCall = Number(now() - t0) / n;
  return Math.max(1, Math.round((targetMs * 1e6) / perCall));
}

/**
 * Runs each measurement a little in every round, the order rotating from round to round, so that
 * a busy moment on the machine (other guests booting) falls on all of them alike rather than on
 * whichever ran then. `m.run(round)` returns that round's samples. Returns samples by key.
 */
async function interleave(measures, rounds) {
  const out = Object.fromEntries(measures.map((m) => [m.key, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < measures.length; k++) {
      const m = measures[(k + r) % measures.length];
      out[m.key].push(...(await m.run(r)));
    }
  }
  return out;
}

/** Compiles bench/raw_ioctl.c with cc -O2 into `dir`. */
function compileRaw(dir) {
  const bin = path.join(dir, 'raw_ioctl');
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, path.join(__dirname, 'raw_ioctl.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}

/**
 * The kernel's suspend is bimodal: a fraction of a millisecond when it gets an expedited SRCU grace
 * period, several timer ticks (~15 ms in the guest) when it does not, and back-to-back suspends
 * mostly get the slow one whoever makes them. So every timed suspend, in every contender, comes
 * after the same idle gap; the C program takes it from RAW_GAP_US.
 */
const GAP_MS = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` samples of `fn` (ns), each timed alone after a GAP_MS pause, after `warmup` untimed ones.
 *  `fn(timed)` is told whether this call is one of the samples. */
async function paced(fn, { warmup, n }) {
  const out = [];
  for (let i = 0; i < warmup + n; i++) {
    await sleep(GAP_MS);
    const t = now();
    await fn(i >= warmup);
    if (i >= warmup) out.push(Number(now() - t));
  }
  return out;
}

/** Runs the raw C program; returns its samples (ns). */
function runRaw(bin, args) {
  const out = execFileSync(bin, args.map(String), {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * MiB,
    env: { ...process.env, RAW_GAP_US: String(GAP_MS * 1000) },
  });
  return JSON.parse(out.trim().split('\n').pop()).samples_ns;
}

/**
 * Loop devices on sparse files and dm devices over them, all named dmbench-<pid>-*, torn down in
 * reverse order by cleanup(): dm devices resumed (nothing left suspended) and removed, loop
 * devices detached, files deleted. Safe to call more than once and after a partial setup.
 */
class Fixture {
  constructor(lib) {
    this.lib = lib;
    this.prefix = `dmbench-${process.pid}-`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), this.prefix));
    this.loops = [];
    this.devices = [];
    this.extra = [];
  }

  name(tag) {
    return this.prefix + tag;
  }

  async loop(sizeBytes) {
    const file = path.join(this.dir, `loop-${this.loops.length}.img`);
    const dev = await this.lib.loop.attach(file, { size: BigInt(sizeBytes) });
    this.loops.push(dev);
    return dev;
  }

  /** A live dm device: one linear target over the whole of `loop`. */
  async linear(tag, loop, sectors) {
    const name = this.name(tag);
    await this.lib.dm.create(name);
    this.devices.push(name);
    await this.lib.dm.loadRawTable(name, [linearTarget(loop, sectors)]);
    await this.lib.dm.resume(name);
    return name;
  }

  /** Remember a device made by someone else (e.g. an operation) so that cleanup removes it. */
  adopt(name) {
    if (!this.devices.includes(name)) this.devices.push(name);
  }

  /** Also remove at cleanup every dm device whose name starts with our prefix (operations may
   *  make helper devices we do not know the names of). */
  async cleanup() {
    const { dm, loop } = this.lib;
    const problems = [];
    let names = [...new Set([...this.devices, ...listOurs(dm, this.prefix)])];
    // Stacked devices: a lower one stays busy until the one above is gone, so go round.
    for (let round = 0; names.length && round < 5; round++) {
      for (const name of [...names].reverse()) {
        try {
          if (dm.infoSync(name).flags.suspended) await dm.resume(name, { node: false }).catch(() => undefined);
          await dm.remove(name, { retry: { attempts: 5, delayMs: 100 } });
        } catch (e) {
          if (e.code !== 'ENXIO' && round === 4) problems.push(`remove ${name}: ${e.message}`);
        }
      }
      names = listOurs(dm, this.prefix);
    }
    this.devices = [];
    for (const dev of this.loops.reverse()) {
      try {
        await loop.detach(dev.path);
      } catch (e) {
        if (e.code !== 'ENXIO') problems.push(`detach ${dev.path}: ${e.message}`);
      }
    }
    this.loops = [];
    for (const f of this.extra) fs.rmSync(f, { recursive: true, force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

function listOurs(dm, prefix) {
  try {
    return dm.listDevicesSync().filter((d) => d.name.startsWith(prefix)).map((d) => d.name);
  } catch {
    return [];
  }
}

function linearTarget(loop, sectors, offset = 0n) {
  return { start: 0n, length: BigInt(sectors), type: 'linear', params: `${loop.major}:${loop.minor} ${offset}` };
}

/** The same target as one table line, for dmsetup and the C program. */
function tableLine(t) {
  return `${t.start} ${t.length} ${t.type} ${t.params}`;
}

module.exports = {
  ROOT, DMSETUP, MiB, library, addon, operations, stats, ratio, timeSync, timeAsync, batchFor, interleave, paced, sleep, GAP_MS, compileRaw, runRaw,
  Fixture, linearTarget, tableLine, now,
};
