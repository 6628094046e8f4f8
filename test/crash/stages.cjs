// The crash test's three boots, run as root in the rig's guest on one scratch disk that outlives
// each boot (scripts/rig/crash.js runs them): `node test/crash/stages.cjs N`.
//   1: an ext4 volume on a loop device, mounted; files written and fsync'd; divert; more files
//      fsync'd; a hard reset (sysrq b: no sync, no unmount).
//   2: recover brings the volume back diverted; every fsync'd file is there; a large file is
//      written, a merge started, and the machine reset again in the middle of it.
//   3: recover resumes and finishes the merge; fsck finds the filesystem clean; every fsync'd file
//      is intact; no COW file and no record is left.
// Each boot prints `crash-stage N: ...`; a failure exits 3 (the orchestrator then fails).
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const DIR = '/scratch/crash';
process.env.DEVMAPPER_STATE_DIR = '/scratch/state'; // on the disk that survives the reset
const { loop } = require(path.join(ROOT, 'dist'));
const dm = require(path.join(ROOT, 'dist', 'api', 'dm'));
const ops = require(path.join(ROOT, 'dist', 'ops')); // baseName is internal

const V = 'crashvol';
const MNT = '/mnt/crashvol';
const IMG = path.join(DIR, 'disk.img');
const COW = path.join(DIR, 'vol.cow');
const stage = Number(process.argv[2]);
const say = (s) => process.stdout.write(`crash-stage ${stage}: ${s}\n`);
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function fail(why) {
  say(`FAILED: ${why}`);
  process.exit(3);
}

/** 64 KiB a name determines, so a later boot can check a file without a list. */
function content(name) {
  const block = crypto.createHash('sha256').update(name).digest();
  return Buffer.concat(Array.from({ length: 2048 }, () => block));
}

function fsyncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

function writeFiles(prefix, n, bytes) {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const fd = fs.openSync(path.join(MNT, name), 'w');
    const data = content(name);
    for (let off = 0; off < (bytes ?? data.length); off += data.length) fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  fsyncDir(MNT);
}

function checkFiles(prefix, n, bytes) {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const got = fs.readFileSync(path.join(MNT, name));
    const one = content(name);
    const want = bytes ? Buffer.concat(Array.from({ length: bytes / one.length }, () => one)) : one;
    if (!got.equals(want)) fail(`${name} is not as written (${got.length} bytes)`);
  }
  say(`${n} files ${prefix}-* intact`);
}

const BULK = 40 * 1024 * 1024;

/** Every file fsync'd before the first reset, and the bulk file of the second boot. */
function checkWritten(bulk) {
  checkFiles('before', 20);
  checkFiles('after', 20);
  if (bulk) checkFiles('bulk', 1, BULK);
}

/** A hard reset with nothing synced or unmounted; tells the rig that it was meant. */
function reset() {
  fs.writeFileSync('/rig/reset', `${stage}\n`);
  say('hard reset (sysrq b)');
  fs.writeFileSync('/proc/sys/kernel/sysrq', '1');
  fs.writeFileSync('/proc/sysrq-trigger', 'b');
}

function mount() {
  fs.mkdirSync(MNT, { recursive: true });
  sh('mount', [dm.nodePath(V), MNT]);
}

async function one() {
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.rmSync(process.env.DEVMAPPER_STATE_DIR, { recursive: true, force: true });
  fs.mkdirSync(DIR, { recursive: true });
  const l = await loop.attach(IMG, { size: 96 * 1024 * 1024 });
  await dm.create(V);
  await dm.loadRawTable(V, [{ start: 0, length: (96 * 1024 * 1024) / 512, type: 'linear', params: `${l.path} 0` }]);
  await dm.resume(V);
  sh('mkfs.ext4', ['-q', dm.nodePath(V)]);
  mount();
  writeFiles('before', 20);
  const d = await ops.divert(V, { cow: { file: COW, size: '64M' } });
  say(`diverted, COW ${d.cow.file} on ${d.cow.device}`);
  writeFiles('after', 20);
  fs.writeFileSync(path.join(MNT, 'unsynced'), 'this may be lost');
  reset();
}

async function two() {
  const reports = await ops.recover();
  say(`recover: ${JSON.stringify(reports)}`);
  if (reports.length !== 1 || reports[0].state !== 'diverted') fail('the volume did not come back diverted');
  mount();
  checkWritten(false);
  writeFiles('bulk', 1, BULK);
  await ops.merge(V, { wait: false });
  const s = (await ops.describe(V)).merge;
  say(`merge started (${s && s.complete ? 'already complete' : 'in progress'})`);
  reset();
}

async function three() {
  const reports = await ops.recover({ wait: true });
  say(`recover: ${JSON.stringify(reports)}`);
  if (reports.length !== 1 || reports[0].state !== 'plain') fail('the merge was not finished');
  // Mounting replays the journal of the filesystem the reset cut off; then it must be clean.
  mount();
  checkWritten(true);
  sh('umount', [MNT]);
  let fsck;
  try {
    fsck = { status: 0, out: sh('fsck.ext4', ['-fn', dm.nodePath(V)]) };
  } catch (e) {
    fsck = { status: e.status, out: `${e.stdout}${e.stderr}` };
  }
  if (fsck.status !== 0) fail(`fsck -fn exited ${fsck.status}: ${fsck.out}`);
  say('fsck -fn: clean');
  if (fs.existsSync(COW)) fail(`${COW} is left`);
  if (fs.readdirSync(process.env.DEVMAPPER_STATE_DIR).some((f) => f.endsWith('.json'))) fail('a record is left');
  if (dm.listDevicesSync().some((x) => x.name === ops.baseName(V))) fail('the base is left');
  const disk = dm.tableSync(V)[0].params.split(' ')[0];
  await dm.remove(V);
  for (const l of await loop.list()) if (l.file === IMG) await loop.detach(l.path);
  say(`ok (the volume was on ${disk}; no COW file, no record, no base left)`);
}

({ 1: one, 2: two, 3: three })[stage]().catch((e) => fail(e.stack || e.message));
