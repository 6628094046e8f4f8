#!/usr/bin/env node
'use strict';
// npm run demo: the main job, with dmctl, on loop devices. An ext4 volume takes writes; it is
// diverted live while a writer keeps going; the frozen image is mounted and checked; the writes
// are merged back with a progress bar; every byte is verified; everything is cleaned up, also on
// Ctrl-C. Where this kernel has no device-mapper, the whole demo runs in the QEMU guest.
//   node scripts/demo.js [--size 256M] [--keep-going-ms 3000]
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { hostHasDeviceMapper } = require('./kernel-check');

const ROOT = path.resolve(__dirname, '..');
const DMCTL = path.join(ROOT, 'dist', 'cli', 'main.js');
const MiB = 1 << 20;

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const SIZE_MIB = Number(String(option('--size', '256M')).replace(/M$/i, ''));
const AFTER_DIVERT_MS = Number(option('--keep-going-ms', '3000'));
const PREFIX = `dmdemo-${process.pid}`;
const VOL = `${PREFIX}-vol`;
const FROZEN = `${PREFIX}-frozen`;

// ---------------------------------------------------------------- output

const say = (text) => process.stdout.write(`\n== ${text}\n`);
const show = (cmd) => process.stdout.write(`$ ${cmd}\n`);

/** Runs dmctl as a user would type it; its stdout is shown (or returned with capture). */
function dmctl(args, { capture = false } = {}) {
  if (interrupted) return Promise.reject(new Error('interrupted'));
  show(`dmctl ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  return new Promise((resolve, reject) => {
    // A process group of its own: a Ctrl-C on the terminal reaches the demo, which lets a live
    // operation finish and tells a merge to stop waiting, instead of killing dmctl half-way.
    const child = spawn(process.execPath, [DMCTL, ...args], { stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'], detached: true });
    child.verb = args.find((a) => !a.startsWith('-'));
    children.add(child);
    let out = '';
    if (capture) child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      children.delete(child);
      if (code === 0) return resolve(out);
      reject(Object.assign(new Error(`dmctl ${args[0]} exited ${code ?? signal}`), { exitCode: code }));
    });
  });
}

function run(cmd, args, { quiet = false } = {}) {
  if (interrupted) throw new Error('interrupted');
  if (!quiet) show([cmd, ...args].join(' '));
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

// ---------------------------------------------------------------- state for cleanup

const children = new Set();
/** Set on Ctrl-C: no further step starts. */
let interrupted = false;
const mounts = [];
let work;
let writer;
let cleaning;

// ---------------------------------------------------------------- the writer

/** Writes 1 MiB files one after another, each fsynced, up to `limit` files; then overwrites them
 *  in place, oldest first. Remembers every file's latest checksum and when it was completed. */
function startWriter(dir, limit) {
  const files = new Map(); // name -> { sha, doneAt } of its latest version
  const history = new Map(); // name -> Set of the checksums of every version written
  let n = 0;
  let stop = false;
  const state = { files, history, error: undefined, writes: 0 };
  const done = (async () => {
    while (!stop) {
      const name = `live-${String((n++ % limit) + 1).padStart(5, '0')}.bin`;
      const data = crypto.randomBytes(MiB);
      // In place once the file exists: the same blocks, so the COW holds at most `limit` MiB of them.
      const fh = await fs.promises.open(path.join(dir, name), files.has(name) ? 'r+' : 'w');
      try {
        await fh.write(data, 0, data.length, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const sum = sha(data);
      files.set(name, { sha: sum, doneAt: process.hrtime.bigint() });
      if (!history.has(name)) history.set(name, new Set());
      history.get(name).add(sum);
      state.writes++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })().catch((err) => {
    state.error = err;
  });
  state.stop = async () => {
    stop = true;
    await done;
    if (state.error) throw new Error(`the writer failed: ${state.error.message}`);
  };
  return state;
}

const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Every file of `expected` read back from `dir` with the same checksum; returns bytes checked. */
function verify(dir, expected) {
  let bytes = 0;
  for (const [name, want] of expected) {
    const data = fs.readFileSync(path.join(dir, name));
    if (sha(data) !== want) throw new Error(`${name}: content differs from what was written`);
    bytes += data.length;
  }
  return bytes;
}

// ---------------------------------------------------------------- the demo

async function demo() {
  work = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-`));
  const mnt = path.join(work, 'volume');
  const frozenMnt = path.join(work, 'frozen');
  fs.mkdirSync(mnt);
  fs.mkdirSync(frozenMnt);

  say(`A ${SIZE_MIB} MiB ext4 volume on a loop device`);
  const loopDev = (await dmctl(['loop', 'attach', path.join(work, 'data.img'), '--size', `${SIZE_MIB}M`], { capture: true })).trim();
  process.stdout.write(`${loopDev}\n`);
  const sectors = (SIZE_MIB * MiB) / 512;
  await dmctl(['create', VOL, '--table', `0 ${sectors} linear ${loopDev} 0`]);
  await dmctl(['table', VOL]);
  run('mkfs.ext4', ['-q', '-F', `/dev/mapper/${VOL}`]);
  run('mount', [`/dev/mapper/${VOL}`, mnt]);
  mounts.push(mnt);

  const limit = Math.max(4, Math.floor((SIZE_MIB - 16) / 3));
  say(`Write to it: 4 files of 4 MiB, and a writer that keeps writing ${limit} files of 1 MiB over and over`);
  const seeds = new Map();
  for (let i = 1; i <= 4; i++) {
    const data = crypto.randomBytes(4 * MiB);
    fs.writeFileSync(path.join(mnt, `seed-${i}.bin`), data);
    seeds.set(`seed-${i}.bin`, sha(data));
  }
  run('sync', [], { quiet: true });
  writer = startWriter(mnt, limit);
  await new Promise((r) => setTimeout(r, 1500));

  say('Divert it live: the current contents freeze in a hidden base, new writes go to a COW file');
  const diverted = JSON.parse(await dmctl(['--json', 'divert', VOL, '--cow', path.join(work, 'cow.img'), '--size', `${Math.max(64, SIZE_MIB / 2)}M`], { capture: true }));
  process.stdout.write(`frozen image: ${diverted.base.path} (${diverted.base.dev}); COW: ${diverted.cow.device}; I/O paused ${diverted.freezeMs.toFixed(1)} ms\n`);
  await dmctl(['describe', VOL]);

  say('The frozen image, mounted read-only beside the live volume (the writer keeps going)');
  await dmctl(['create', FROZEN, '--readonly', '--table', `0 ${sectors} linear ${diverted.base.dev} 0`]);
  run('mount', ['-o', 'ro,noload', `/dev/mapper/${FROZEN}`, frozenMnt]);
  mounts.push(frozenMnt);
  // The freeze is one point in time: each file there is whole, in one of the versions the writer
  // completed (or empty, created but not yet written), and the seed files are exact.
  const seedBytes = verify(frozenMnt, seeds);
  let whole = 0;
  const frozenFiles = fs.readdirSync(frozenMnt).filter((f) => f.startsWith('live-'));
  for (const f of frozenFiles) {
    const data = fs.readFileSync(path.join(frozenMnt, f));
    if (data.length === 0) continue;
    if (!writer.history.get(f)?.has(sha(data))) throw new Error(`frozen image: ${f} is not any version the writer wrote`);
    whole++;
  }
  if (whole === 0) throw new Error('the frozen image holds none of the writer\'s files');
  process.stdout.write(`frozen image: the 4 seed files match byte for byte (${seedBytes / MiB} MiB); ${whole} of the writer's files, each a whole version it wrote before the freeze\n`);
  process.stdout.write(`the live volume meanwhile: ${writer.writes} writes so far\n`);
  run('umount', [frozenMnt]);
  mounts.pop();
  await dmctl(['remove', FROZEN]);

  await new Promise((r) => setTimeout(r, AFTER_DIVERT_MS));
  say('Merge the writes back into the volume, live (the writer still going)');
  await dmctl(['merge', VOL]);
  await writer.stop();
  await dmctl(['describe', VOL]);
  await dmctl(['table', VOL]);

  say('Verify every byte: fsck, remount, read every file back');
  run('umount', [mnt]);
  mounts.pop();
  run('fsck.ext4', ['-fn', `/dev/mapper/${VOL}`], { quiet: true });
  process.stdout.write('fsck.ext4 -fn: clean\n');
  run('mount', ['-o', 'ro', `/dev/mapper/${VOL}`, mnt]);
  mounts.push(mnt);
  const all = new Map([...seeds, ...[...writer.files].map(([n, f]) => [n, f.sha])]);
  const bytes = verify(mnt, all);
  const onDisk = fs.readdirSync(mnt).filter((f) => f.endsWith('.bin')).length;
  if (onDisk !== all.size) throw new Error(`${onDisk} files on the volume, ${all.size} written`);
  process.stdout.write(`verified ${all.size} files, ${bytes / MiB} MiB: every byte as last written (${writer.writes} writes of 1 MiB, most of them while diverted and merging)\n`);
  run('umount', [mnt]);
  mounts.pop();

  say('Clean up');
  await dmctl(['remove', VOL]);
  await dmctl(['loop', 'detach', loopDev]);
  fs.rmSync(work, { recursive: true, force: true });
  const left = await leftovers();
  if (left.length) throw new Error(`left behind: ${left.join(', ')}`);
  work = undefined;
  process.stdout.write('nothing left behind\n\nDEMO OK\n');
}

// ---------------------------------------------------------------- cleanup, also on Ctrl-C

async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    const dm = require(path.join(ROOT, 'dist', 'api', 'dm'));
    const { loop } = require(path.join(ROOT, 'dist'));
    // A merge stops waiting (it goes on in the kernel until its device is removed); any other
    // dmctl is a live operation of milliseconds: let it finish or roll back.
    const exits = [...children].map((c) => new Promise((r) => c.once('close', r)));
    for (const c of children) if (c.verb === 'merge') c.kill('SIGINT');
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 60_000))]);
    for (const c of children) c.kill('SIGKILL');
    const ours = async () => (await dm.listDevices()).filter((d) => d.name.startsWith(PREFIX));
    for (const d of await ours()) if ((await dm.info(d.name)).flags.suspended) await dm.resume(d.name).catch(() => undefined);
    if (writer) await Promise.race([writer.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    for (const m of mounts.reverse()) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
    mounts.length = 0;
    // Ours, top of the stack first: the frozen view, the volume, then its hidden base.
    for (let round = 0; round < 5; round++) {
      const left = await ours();
      if (!left.length) break;
      for (const d of left) await dm.remove(d.name, { retry: { attempts: 10, delayMs: 200 } }).catch(() => undefined);
    }
    if (work) {
      for (const l of await loop.list()) if (l.file.startsWith(`${work}/`)) await loop.detach(l.path).catch(() => undefined);
      fs.rmSync(work, { recursive: true, force: true });
    }
  })();
  return cleaning;
}

async function leftovers() {
  const dm = require(path.join(ROOT, 'dist', 'api', 'dm'));
  const { loop } = require(path.join(ROOT, 'dist'));
  const devs = (await dm.listDevices()).filter((d) => d.name.startsWith(PREFIX)).map((d) => d.name);
  const loops = (await loop.list()).filter((l) => l.file.includes(`/${PREFIX}-`)).map((l) => l.path);
  return [...devs, ...loops, ...(work && fs.existsSync(work) ? [work] : [])];
}

async function main() {
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stdout.write('\ninterrupted: cleaning up\n');
    cleanup().then(async () => {
      const left = await leftovers();
      process.stdout.write(left.length ? `left behind: ${left.join(', ')}\n` : 'nothing left behind\n');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`\ndemo FAILED: ${err && err.message}\n`);
    cleanup().then(() => process.exit(1));
  });
  try {
    await demo();
    return 0;
  } catch (err) {
    if (interrupted) return new Promise(() => {}); // the signal handler exits
    process.stderr.write(`\ndemo FAILED: ${err.message}\n`);
    await cleanup();
    const left = await leftovers();
    if (left.length) process.stderr.write(`left behind: ${left.join(', ')}\n`);
    return 1;
  }
}

if (!fs.existsSync(DMCTL)) {
  process.stderr.write('dist/cli/main.js is missing: run npm run build first (npm run demo does)\n');
  process.exit(2);
}
const host = hostHasDeviceMapper();
if (host.ok) {
  main().then((code) => process.exit(code));
} else {
  // The guest vanishes with everything in it when stopped (Ctrl-C kills it); the rig removes its
  // own files on this machine either way.
  process.stdout.write(`this machine cannot run device-mapper (${host.why}): running the demo in the QEMU guest\n`);
  let stopped = false;
  process.once('SIGINT', () => (stopped = true));
  process.once('SIGTERM', () => (stopped = true));
  const { runInGuest } = require('./rig/run');
  runInGuest([process.execPath, __filename, ...process.argv.slice(2)], { cwd: ROOT, timeout: 1800 })
    .then((rc) => {
      if (stopped) process.stdout.write('\ninterrupted: the guest is gone with everything the demo made in it; nothing left behind\n');
      process.exit(stopped ? 130 : rc);
    }, (e) => {
      process.stderr.write(`[rig] ${e.stack || e}\n`);
      process.exit(1);
    });
}
