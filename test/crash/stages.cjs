// The crash test's three boots, run as root in the rig's guest on one scratch disk that outlives
// each boot (scripts/rig/crash.js runs them): `node test/crash/stages.cjs N`. Two ext4 volumes on
// loop devices over files, mounted: crashvol is diverted and merged, crashmove migrated.
//   1: files written and fsync'd on both; crashvol diverted, more files; crashmove starts
//      migrating to a slow disk (a delay device), more files; a hard reset (sysrq b: no sync, no
//      unmount) in the middle of the copy.
//   2: recover brings crashvol back diverted and crashmove back on its old disk, with no helper
//      device or migration record left; every fsync'd file is there. A large file is written to
//      crashvol; crashmove migrates again (more files during the copy); once the copy is done a
//      merge is started, and the machine reset again in the migration's finish, once its record
//      says `finishing`, with the merge under way.
//   3: recover finishes the merge and makes crashmove again on its new disk; fsck finds both
//      filesystems clean; every fsync'd file is intact; no COW file, record or helper is left.
// Each boot prints `crash-stage N: ...`; a failure exits 3 (the orchestrator then fails).
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const DIR = '/scratch/crash';
const STATE = '/scratch/state'; // on the disk that survives the reset
process.env.DEVMAPPER_STATE_DIR = STATE;
const { loop } = require(path.join(ROOT, 'dist'));
const dm = require(path.join(ROOT, 'dist', 'api', 'dm'));
const ops = require(path.join(ROOT, 'dist', 'ops')); // baseName is internal

const V = 'crashvol';
const MNT = '/mnt/crashvol';
const IMG = path.join(DIR, 'disk.img');
const COW = path.join(DIR, 'vol.cow');
const M = 'crashmove';
const MMNT = '/mnt/crashmove';
const OLD = path.join(DIR, 'move-old.img');
const NEW = path.join(DIR, 'move-new.img');
const SLOW = 'crashslow';
const MOVE = 32 * 1024 * 1024;
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

function writeFiles(mnt, prefix, n, bytes) {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const fd = fs.openSync(path.join(mnt, name), 'w');
    const data = content(name);
    for (let off = 0; off < (bytes ?? data.length); off += data.length) fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  fsyncDir(mnt);
}

function checkFiles(mnt, prefix, n, bytes) {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const got = fs.readFileSync(path.join(mnt, name));
    const one = content(name);
    const want = bytes ? Buffer.concat(Array.from({ length: bytes / one.length }, () => one)) : one;
    if (!got.equals(want)) fail(`${name} is not as written (${got.length} bytes)`);
  }
  say(`${n} files ${prefix}-* intact`);
}

const BULK = 40 * 1024 * 1024;

/** Every file fsync'd on crashvol before the first reset, and the bulk file of the second boot. */
function checkWritten(bulk) {
  checkFiles(MNT, 'before', 20);
  checkFiles(MNT, 'after', 20);
  if (bulk) checkFiles(MNT, 'bulk', 1, BULK);
}

/** Every file fsync'd on crashmove: before and during the first copy, and during the second. */
function checkMoved(second) {
  checkFiles(MMNT, 'moved', 20);
  checkFiles(MMNT, 'mirrored', 5);
  if (second) checkFiles(MMNT, 'copied', 5);
}

/** A hard reset with nothing synced or unmounted; tells the rig that it was meant. */
function reset(where) {
  fs.writeFileSync('/rig/reset', `${stage}\n`);
  say(`hard reset (sysrq b) ${where}`);
  fs.writeFileSync('/proc/sys/kernel/sysrq', '1');
  fs.writeFileSync('/proc/sysrq-trigger', 'b');
}

function mount(name, mnt) {
  fs.mkdirSync(mnt, { recursive: true });
  sh('mount', [dm.nodePath(name), mnt]);
}

function fsck(name) {
  try {
    sh('fsck.ext4', ['-fn', dm.nodePath(name)]);
  } catch (e) {
    fail(`fsck -fn of ${name} exited ${e.status}: ${e.stdout}${e.stderr}`);
  }
  say(`fsck -fn ${name}: clean`);
}

/** A device made of one linear target over a new loop device on `file`. */
async function linearOnFile(name, file, size) {
  const l = await loop.attach(file, { size });
  await dm.create(name);
  await dm.loadRawTable(name, [{ start: 0, length: size / 512, type: 'linear', params: `${l.path} 0` }]);
  await dm.resume(name);
  return l;
}

/** The backing file of the loop device under `name`, one linear target. */
async function fileUnder(name) {
  const t = dm.tableSync(name);
  if (t.length !== 1 || t[0].type !== 'linear') fail(`${name} is not one linear target: ${JSON.stringify(t)}`);
  const dev = t[0].params.split(' ')[0];
  return (await loop.list()).find((l) => `${l.major}:${l.minor}` === dev)?.file ?? dev;
}

const migrationRecords = () => fs.readdirSync(path.join(STATE, 'migrations')).filter((f) => f.endsWith('.json'));

/** The migration left nothing of its own: no hidden device, no record. */
function noMigrationLeft() {
  const left = dm.listDevicesSync().map((d) => d.name).filter((n) => n.startsWith(`${M}-dm`));
  if (left.length) fail(`helpers left: ${left.join(', ')}`);
  if (migrationRecords().length) fail(`a migration record is left: ${migrationRecords().join(', ')}`);
}

function reportOf(reports, name, state) {
  const r = reports.find((x) => x.device === name);
  if (reports.length !== 2 || r?.state !== state) fail(`recover did not leave ${name} ${state}`);
}

async function one() {
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.rmSync(STATE, { recursive: true, force: true });
  fs.mkdirSync(DIR, { recursive: true });
  await linearOnFile(V, IMG, 96 * 1024 * 1024);
  sh('mkfs.ext4', ['-q', dm.nodePath(V)]);
  mount(V, MNT);
  writeFiles(MNT, 'before', 20);
  const d = await ops.divert(V, { cow: { file: COW, size: '64M' } });
  say(`diverted, COW ${d.cow.file} on ${d.cow.device}`);
  writeFiles(MNT, 'after', 20);
  fs.writeFileSync(path.join(MNT, 'unsynced'), 'this may be lost');

  await linearOnFile(M, OLD, MOVE);
  sh('mkfs.ext4', ['-q', dm.nodePath(M)]);
  mount(M, MMNT);
  writeFiles(MMNT, 'moved', 20);
  // Each write to the new disk waits half a second: the kernel's copy is still going at the reset.
  const dest = await loop.attach(NEW, { size: MOVE });
  await dm.create(SLOW);
  await dm.loadRawTable(SLOW, [{ start: 0, length: MOVE / 512, type: 'delay', params: `${dest.path} 0 0 ${dest.path} 0 500` }]);
  await dm.resume(SLOW);
  await ops.migrate(M, { to: dm.nodePath(SLOW), wait: false });
  writeFiles(MMNT, 'mirrored', 5);
  const m = (await ops.describe(M)).migration;
  if (!m || m.inSyncRegions >= m.totalRegions) fail(`the copy is not under way: ${JSON.stringify(m, (k, x) => (typeof x === 'bigint' ? Number(x) : x))}`);
  reset(`with ${M} migrating (${m.inSyncRegions}/${m.totalRegions} regions copied)`);
}

async function two() {
  const reports = await ops.recover();
  say(`recover: ${JSON.stringify(reports)}`);
  reportOf(reports, V, 'diverted');
  reportOf(reports, M, 'plain');
  if ((await fileUnder(M)) !== OLD) fail(`${M} is not back on ${OLD} but on ${await fileUnder(M)}`);
  noMigrationLeft();
  mount(V, MNT);
  checkWritten(false);
  mount(M, MMNT);
  checkMoved(false);

  writeFiles(MNT, 'bulk', 1, BULK);
  // Small regions make the copy last: it ends after the last fsync on M, whose flush would write
  // the new disk's cache (here its file's page cache) out; only the finish's own flush is left.
  const dest = await loop.attach(NEW);
  await ops.migrate(M, { to: dest.path, wait: false, regionSectors: 16 });
  writeFiles(MMNT, 'copied', 5);
  const m = (await ops.describe(M)).migration;
  if (!m || m.inSyncRegions >= m.totalRegions) fail('the copy ended before the last fsync on M');
  say(`${M} migrating to ${dest.path} (${m.inSyncRegions}/${m.totalRegions} regions copied)`);
  // The merge starts once the copy is done, so that both are under way at the reset.
  const inSync = async () => ((x) => x.inSyncRegions === x.totalRegions)((await ops.describe(M)).migration);
  while (!(await inSync())) await new Promise((r) => setTimeout(r, 200));
  await ops.merge(V, { wait: false });
  // Reset in the finish, past its point of no return: V's new table loaded, the record durable.
  ops.setFaultHook(async (point) => {
    if (point !== 'finish-migration:suspend V') return;
    const r = JSON.parse(fs.readFileSync(path.join(STATE, 'migrations', migrationRecords()[0]), 'utf8'));
    if (r.state !== 'finishing') fail(`the record says ${r.state} at ${point}`);
    const s = (await ops.describe(V)).merge;
    if (!s || s.complete) fail(`${V}'s merge ended before the reset`);
    reset(`in ${M}'s finish (its record says finishing), ${V} merging`);
    await new Promise(() => undefined);
  });
  await ops.migrate(M, { pollMs: 200 });
  fail(`${M}'s migration finished before the reset`);
}

async function three() {
  const reports = await ops.recover({ wait: true });
  say(`recover: ${JSON.stringify(reports)}`);
  reportOf(reports, V, 'plain');
  reportOf(reports, M, 'plain');
  if ((await fileUnder(M)) !== NEW) fail(`${M} is not on its new disk ${NEW} but on ${await fileUnder(M)}`);
  noMigrationLeft();
  // Mounting replays the journal of the filesystem the reset cut off; then it must be clean.
  mount(V, MNT);
  checkWritten(true);
  mount(M, MMNT);
  checkMoved(true);
  sh('umount', [MNT]);
  sh('umount', [MMNT]);
  fsck(V);
  fsck(M);
  if (fs.existsSync(COW)) fail(`${COW} is left`);
  if (fs.readdirSync(STATE).some((f) => f.endsWith('.json'))) fail('a record is left');
  if (dm.listDevicesSync().some((x) => x.name === ops.baseName(V))) fail('the base is left');
  const disk = dm.tableSync(V)[0].params.split(' ')[0];
  await dm.remove(V);
  await dm.remove(M);
  for (const l of await loop.list()) if ([IMG, OLD, NEW].includes(l.file)) await loop.detach(l.path);
  say(`ok (${V} was on ${disk}, ${M} on ${NEW}; no COW file, record, base or helper left)`);
}

({ 1: one, 2: two, 3: three })[stage]().catch((e) => fail(e.stack || e.message));
