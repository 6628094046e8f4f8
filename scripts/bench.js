#!/usr/bin/env node
'use strict';
// npm run bench: devmapper against raw C ioctls and against dmsetup, on loop devices, on this
// kernel when it has device-mapper, otherwise inside the QEMU guest (scripts/rig).
//   node scripts/bench.js [--quick] [--json FILE|-]
// --json writes the results as JSON to FILE (or to stdout with -); the table always goes to stdout.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { StringDecoder } = require('node:string_decoder');
const { hostHasDeviceMapper } = require('./kernel-check');

const ROOT = path.resolve(__dirname, '..');
const MARK = '@@devmapper-bench-json@@ ';

function parseArgs(argv) {
  const o = { quick: false, json: null, inGuest: false, accel: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--in-guest') o.inGuest = true;
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--accel') o.accel = argv[++i];
    else throw new Error(`unknown argument ${a}\nusage: node scripts/bench.js [--quick] [--json FILE|-]`);
  }
  if (o.json === undefined) throw new Error('--json needs a file name (or - for stdout)');
  return o;
}

function output(result, o) {
  const { format } = require('../bench/report');
  process.stdout.write(`\n${format(result)}\n`);
  if (o.json === '-') process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (o.json) {
    fs.writeFileSync(o.json, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`results written to ${o.json}\n`);
  }
}

async function here(o, where) {
  const { runBenchmarks } = require('../bench/main');
  const result = await runBenchmarks({ quick: o.quick, where });
  // In the guest the result travels back over the console, on one marked line.
  if (o.inGuest) process.stdout.write(`${MARK}${JSON.stringify(result)}\n`);
  else output(result, o);
  return 0;
}

/** Boots the guest on `node scripts/bench.js --in-guest`, shows its console, and picks the result
 *  line out of it. */
async function inGuest(o) {
  // The guest emulates every instruction; the thread-pool round trip every async call pays is
  // measured here too, on the real CPU (it needs no device-mapper), for comparison.
  const { asyncHopCost } = require('../bench/host');
  const hostAsyncHop = await asyncHopCost({ quick: o.quick });
  const accel = process.env.DEVMAPPER_RIG_ACCEL === 'kvm' ? 'kvm' : 'tcg';
  const cmd = [process.execPath, path.join(__dirname, 'bench.js'), '--in-guest', '--accel', accel, ...(o.quick ? ['--quick'] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'rig', 'run.js'), '--timeout', '900', '--', ...cmd], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const text = new StringDecoder('utf8');
    let pending = '';
    let result = null;
    child.stdout.on('data', (d) => {
      pending += text.write(d);
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const at = line.indexOf(MARK);
        if (at >= 0) result = JSON.parse(line.slice(at + MARK.length));
        else process.stdout.write(`${line}\n`);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (pending) process.stdout.write(pending);
      if (!result) {
        process.stderr.write(`bench: the guest returned no results (exit ${code})\n`);
        return resolve(code || 1);
      }
      output({ ...result, hostAsyncHop }, o);
      resolve(code ?? 1);
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.inGuest) return here(o, { guest: true, accel: o.accel ?? 'tcg' });
  const host = hostHasDeviceMapper();
  if (host.ok) return here(o, { guest: false });
  process.stderr.write(`bench: this machine cannot run them directly (${host.why}); using the QEMU guest\n`);
  return inGuest(o);
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`bench: ${e.stack || e}\n`);
  process.exit(1);
});
