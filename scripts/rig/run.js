#!/usr/bin/env node
'use strict';
// Runs a command as root in a throw-away QEMU guest on Debian's stock kernel, which has
// device-mapper, with this machine's root visible read-only under an overlay.
//   node scripts/rig/run.js [--kernel bookworm|trixie|sid] [--timeout SECONDS] [--mem MiB] -- COMMAND [ARGS...]
// The kernel is bookworm's 6.1 unless --kernel or DEVMAPPER_RIG_KERNEL picks another suite's.
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { StringDecoder } = require('node:string_decoder');
const { CACHE, kernelSuite, ensureQemu, ensureKernel, ensureBusybox, log, unpackDeb } = require('./assets');
const { buildInitramfs } = require('./initramfs');
const { udevPrelude } = require('./udev');

const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const PASS_ENV = ['PATH', 'CI', 'TERM', 'NODE_OPTIONS', 'DEVMAPPER_DEBUG', 'FORCE_COLOR', 'NO_COLOR',
  'DEVMAPPER_RIG_KERNEL', 'DEVMAPPER_RIG_UDEV', 'DEVMAPPER_KILL_ALL'];

function parseArgs(argv) {
  const opts = { timeout: 3600, mem: 4096, kernel: undefined, cmd: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') { opts.cmd = argv.slice(i + 1); break; }
    if (argv[i] === '--timeout') opts.timeout = Number(argv[++i]);
    else if (argv[i] === '--mem') opts.mem = Number(argv[++i]);
    else if (argv[i] === '--kernel') opts.kernel = kernelSuite(argv[++i]);
    else { opts.cmd = argv.slice(i); break; }
  }
  if (!opts.cmd.length) throw new Error('usage: run.js [--kernel bookworm|trixie|sid] [--timeout S] [--mem MiB] -- COMMAND [ARGS...]');
  return opts;
}

// Nested KVM on these machines opens but hangs or dies at boot, so software emulation is the
// default; DEVMAPPER_RIG_ACCEL=kvm tries KVM where it is known to work.
function accelerator() {
  return process.env.DEVMAPPER_RIG_ACCEL === 'kvm' ? 'kvm' : 'tcg';
}

/** The reference tools the tests compare devmapper with, fetched once (apt-get download) and
 *  named to the guest: kpartx and lvm2 (their libdevmapper comes with this machine's dmsetup;
 *  lvm2's libdevmapper-event does not, and is put on its library path). */
function toolsPrelude() {
  const find = (dir, name) => ['sbin', 'usr/sbin'].map((d) => path.join(dir, d, name)).find((p) => fs.existsSync(p));
  const kpartx = find(unpackDeb('kpartx'), 'kpartx');
  const lvm = find(unpackDeb('lvm2'), 'lvm');
  const event = path.join(unpackDeb('libdevmapper-event1.02.1'), 'lib', 'x86_64-linux-gnu');
  return [
    ...(kpartx ? [`export DEVMAPPER_RIG_KPARTX=${quote(kpartx)}`] : []),
    ...(lvm ? [`export DEVMAPPER_RIG_LVM=${quote(lvm)} DEVMAPPER_RIG_LVM_LIBS=${quote(event)}`] : []),
  ];
}

function writeCommand(runDir, cmd, cwd, suite) {
  const env = PASS_ENV.filter((k) => process.env[k] !== undefined).map((k) => `export ${k}=${quote(process.env[k])}`);
  const script = [
    ...env,
    // The serial console is a terminal; tell tools not to redraw progress lines on it.
    'export HOME=/root DEVMAPPER_RIG=1 CI="${CI:-true}" TMPDIR=/scratch',
    `export DEVMAPPER_RIG_KERNEL=${suite}`,
    ...udevPrelude(),
    ...toolsPrelude(),
    `cd ${quote(cwd)} || exit 97`,
    cmd.map(quote).join(' '),
  ].join('\n');
  fs.writeFileSync(path.join(runDir, 'cmd.sh'), `${script}\n`);
}

// DEVMAPPER_RIG_SCRATCH=<file>: the scratch disk outlives the guest (made on first use, kept after),
// so that one test can run over several boots on the same disk (scripts/rig/crash.js).
function makeScratch(runDir) {
  const kept = process.env.DEVMAPPER_RIG_SCRATCH;
  if (kept && fs.existsSync(kept)) return kept;
  const img = kept || path.join(runDir, 'scratch.img');
  fs.closeSync(fs.openSync(img, 'w'));
  fs.truncateSync(img, 16 * 1024 ** 3);
  execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=1,lazy_journal_init=1', img], { stdio: 'ignore' });
  return img;
}

function qemuArgs({ kernel, initrd, runDir, scratch, mem, accel }) {
  return [
    '-machine', accel === 'kvm' ? 'q35,accel=kvm' : 'q35,accel=tcg',
    '-cpu', accel === 'kvm' ? 'host,arch-capabilities=off' : 'max', '-smp', '2', '-m', String(mem),
    '-nodefaults', '-no-reboot', '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
    '-kernel', kernel.vmlinuz, '-initrd', initrd,
    '-append', 'console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init',
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${runDir},mount_tag=results,security_model=none`,
    '-drive', `file=${scratch},if=virtio,format=raw,cache=unsafe`,
  ];
}

// A TCG boot takes seconds; now and then one stalls before init gets to the command (seen with
// two vCPUs on a loaded host). No start marker by then: the boot is killed and tried once more.
const BOOT_SECONDS = Number(process.env.DEVMAPPER_RIG_BOOT_SECONDS) || 180;

/** Runs `cmd` in a fresh guest; resolves with its exit code. `resetOk`: a guest that the command
 *  hard-resets on purpose (it writes /rig/reset first) counts as exit 0. */
async function runInGuest(cmd, { timeout = 3600, mem = 4096, cwd = process.cwd(), kernel: suite, resetOk = false } = {}) {
  const qemu = ensureQemu();
  const kernel = ensureKernel(kernelSuite(suite));
  const initrd = buildInitramfs({ kernel, busybox: ensureBusybox(), cacheDir: CACHE });
  const runDir = fs.mkdtempSync(path.join(CACHE, 'run-'));
  try {
    writeCommand(runDir, cmd, cwd, kernel.suite);
    const accel = accelerator();
    let code;
    for (let attempt = 1; ; attempt++) {
      const scratch = makeScratch(runDir);
      log(`booting Debian ${kernel.release} (${accel}) for: ${cmd.join(' ')}`);
      const r = await boot(qemu, qemuArgs({ kernel, initrd, runDir, scratch, mem, accel }), timeout, path.join(runDir, 'started'));
      code = r.code;
      if (!r.stalled) break;
      if (attempt === 2) return 1;
    }
    const rcFile = path.join(runDir, 'rc');
    if (!fs.existsSync(rcFile) && resetOk && fs.existsSync(path.join(runDir, 'reset'))) {
      log('the guest was reset by its command, as it meant to');
      return 0;
    }
    if (!fs.existsSync(rcFile)) {
      const insmod = path.join(runDir, 'insmod.log');
      if (fs.existsSync(insmod)) process.stderr.write(fs.readFileSync(insmod, 'utf8'));
      log(`the guest did not finish the command (qemu exit ${code})`);
      return 1;
    }
    return Number(fs.readFileSync(rcFile, 'utf8').trim());
  } finally {
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

/** Runs qemu until it exits; `stalled` when `marker` did not appear within BOOT_SECONDS. */
function boot(qemu, args, timeout, marker) {
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const text = new StringDecoder('utf8');
    child.stdout.on('data', (d) => process.stdout.write(text.write(d).replace(/\r\n/g, '\n').replace(/\r/g, '')));
    let stalled = false;
    const timer = setTimeout(() => { log(`timed out after ${timeout}s`); child.kill('SIGKILL'); }, timeout * 1000);
    const watchdog = setTimeout(() => {
      if (fs.existsSync(marker)) return;
      stalled = true;
      log(`the guest did not reach its command within ${BOOT_SECONDS}s; killing it`);
      child.kill('SIGKILL');
    }, BOOT_SECONDS * 1000);
    const stop = () => child.kill('SIGKILL');
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(watchdog);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve({ code, stalled });
    });
  });
}

module.exports = { runInGuest };

if (require.main === module) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  runInGuest(opts.cmd, opts).then((rc) => process.exit(rc), (e) => {
    process.stderr.write(`[rig] ${e.stack || e}\n`);
    process.exit(1);
  });
}
