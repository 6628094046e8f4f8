'use strict';
// The readable form of a result object from main.js.

function time(ns) {
  if (ns === null || ns === undefined) return '-';
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

function times(x) {
  if (x === null || x === undefined) return '-';
  return x >= 100 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`;
}

function target(t) {
  if (!t) return '-';
  return t.max !== undefined ? `<= ${t.max}x` : `>= ${t.min}x`;
}

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function rowsTable(rows) {
  const out = [`  ${pad('', 52)}${lpad('p10', 11)}${lpad('median', 11)}${lpad('p90', 11)}${lpad('n', 6)}`];
  for (const r of rows) {
    if (!r.stats) {
      out.push(`  ${pad(r.label, 52)}  not available: ${r.why ?? 'not measured'}`);
      continue;
    }
    out.push(`  ${pad(r.label, 52)}${lpad(time(r.stats.p10Ns), 11)}${lpad(time(r.stats.medianNs), 11)}${lpad(time(r.stats.p90Ns), 11)}${lpad(r.stats.n, 6)}`);
  }
  return out;
}

function ratiosTable(ratios) {
  const out = [`  ${pad('ratio (target applies to the medians)', 52)}${lpad('(p10)', 11)}${lpad('median', 11)}${lpad('(p90)', 11)}  ${pad('target', 9)} result`];
  for (const q of ratios) {
    const verdict = !q.target ? '' : q.met === null ? 'not available' : q.met ? 'met' : 'MISSED';
    out.push(`  ${pad(q.label, 52)}${lpad(times(q.p10Value), 11)}${lpad(times(q.value), 11)}${lpad(times(q.p90Value), 11)}  ${pad(target(q.target), 9)} ${verdict}`);
  }
  return out;
}

function section(title, s, extra = []) {
  if (!s) return [`${title}: not run`, ''];
  const head = s.available === false && !s.rows.length ? [`${title}: not available (${s.why})`] : [title];
  return [...head, ...extra, ...rowsTable(s.rows), ...ratiosTable(s.ratios), ''];
}

const ms = (x) => `${x.toFixed(2)} ms`;
const lagLine = (label, m) =>
  `  ${pad(label, 52)}${lpad(ms(m.lag.medianMaxMs), 11)}${lpad(ms(m.lag.maxMs), 11)}${lpad(ms(m.lag.p99Ms), 11)}${lpad(ms(m.heldMs), 11)}`;

/** A section that may be missing from older results or skipped where its tools are missing. */
function optional(title, b, lines) {
  if (!b) return [];
  if (b.skipped) return [title, `  skipped: ${b.skipped}`, ''];
  return [title, ...lines(b), ''];
}

const seconds = (x) => `${(x / 1000).toFixed(2)} s`;

function migrateSection(r) {
  return optional('F. Migration of a dense volume (issue 13): devmapper against a dmsetup mirror table and a polling loop', r, (b) => [
    `  ${b.sizeMiB} MiB, median of ${b.rounds} alternating rounds: recipe ${seconds(b.medianMs.recipe)}; ops.migrate ${seconds(b.medianMs.library)} (ratio ${b.ratio.toFixed(2)}, target <= ${b.target})`,
    `  CPU while the kernel copies: ops.migrate's follow ${b.cpuPercent.libraryWaiting.toFixed(2)}% (target < ${b.cpuTarget}%); whole runs: ops.migrate ${b.cpuPercent.library.toFixed(2)}%, the recipe's shell and dmsetup ${b.cpuPercent.recipe.toFixed(2)}%`,
  ]);
}

function backupSection(r) {
  return optional('E. Backup of a dense volume (issue 13): devmapper against dmsetup snapshot + dd bs=1M conv=sparse + removal', r, (b) => [
    `  ${b.sizeMiB} MiB, median of ${b.rounds} alternating rounds, page cache dropped before each:`,
    `  recipe ${seconds(b.medianMs.recipe)}; ops.backup ${seconds(b.medianMs.library)} (ratio ${b.ratio.library.toFixed(2)}, target <= ${b.target}); dmctl backup ${seconds(b.medianMs.cli)} (ratio ${b.ratio.cli.toFixed(2)})`,
    `  CPU seconds: recipe ${b.cpuSeconds.recipe.toFixed(2)}, ops.backup ${b.cpuSeconds.library.toFixed(2)} (with the CRC-32 of the image as read and as read back), dmctl ${b.cpuSeconds.cli.toFixed(2)}`,
  ]);
}

function threadsSection(t) {
  const title = 'D. Blocking calls on their own threads (issue 14)';
  if (!t) return [`${title}: not run`, ''];
  const out = [
    title,
    `  event-loop lag (delay beyond a 1 ms sampling timer) while the kernel holds a call ~${t.holdMs} ms, ${t.suspend.rounds} rounds`,
    `  ${pad('', 52)}${lpad('max, med.', 11)}${lpad('max, worst', 11)}${lpad('p99, med.', 11)}${lpad('held', 11)}`,
    lagLine('dm.suspend', t.suspend),
    lagLine('BLKFLSBUF (loop.flushBuffers)', t.flush),
    lagLine('idle loop, as long (the noise floor)', t.idle),
    lagLine('one suspend issued on the JS thread (the old way)', t.onJsThread),
    `  libuv pool while ${t.pool.suspends} suspends are held (devmapper threads busy: ${t.pool.poolBusyAtStart}):`,
    `    fs.stat median ${time(t.pool.held?.medianNs)} (idle ${time(t.pool.idle?.medianNs)}), ${t.pool.statsDoneWhileHeld} done before any suspend returned`,
    `  1,000 concurrent dm.waitEvent: OS threads ${t.waits.threadsBefore} -> ${t.waits.threadsDuring}` +
      ` (waiter threads ${t.waits.stats.waiterThreads}, waits ${t.waits.stats.waits}); on remove all ended with ${t.waits.ends.join(', ')}`,
  ];
  for (const q of t.targets) {
    const v = q.valueMs !== undefined ? ms(q.valueMs) : String(q.value);
    const tgt = q.valueMs !== undefined ? `< ${q.max} ms` : `<= ${q.max}`;
    out.push(`  ${pad(q.label, 52)}${lpad(v, 11)}  target ${pad(tgt, 9)} ${q.met ? 'met' : 'MISSED'}`);
  }
  return [...out, ''];
}

function describeWhere(w) {
  const place = w.guest ? `QEMU ${String(w.accel ?? 'tcg').toUpperCase()} guest` : 'this machine';
  return `Linux ${w.kernel} (${place}), Node ${w.node}, ${w.cpus} CPUs`;
}

function format(r) {
  const lines = [
    `devmapper benchmarks, ${r.date}, ${describeWhere(r.where)}`,
    `devices: ${r.device.target} target, ${r.device.sizeMiB} MiB, over a ${r.device.backing}`,
  ];
  if (r.where.guest && r.where.accel !== 'kvm') {
    lines.push('NOTE: the guest is software-emulated (QEMU TCG): every absolute time here is many times slower');
    lines.push('than on hardware. Compare the ratios, which set devmapper against C and dmsetup on the same machine.');
  }
  if (r.suspendGapMs) {
    lines.push(`Each timed suspend, in every contender, follows a ${r.suspendGapMs} ms idle gap: the kernel's suspend takes either`);
    lines.push('an expedited SRCU grace period (sub-ms) or a normal one (several timer ticks), and back-to-back calls');
    lines.push('mostly get the slow one whoever makes them. dmsetup sequences get their gaps from process start-up.');
  }
  lines.push('');
  lines.push('A. Per-call cost (issue 3): one device-mapper call, per call');
  lines.push(...section('DEV_STATUS', r.ioctl?.status));
  if (r.hostAsyncHop) {
    lines.push(`  one async call's round trip through devmapper's threads, host CPU (the ioctl fails at once there):`);
    lines.push(`  ${time(r.hostAsyncHop.medianNs)} median, ${time(r.hostAsyncHop.p90Ns)} p90`);
    lines.push('');
  }
  lines.push(...section('suspend + resume cycle', r.ioctl?.suspendResume));
  lines.push('B. Freeze window (issue 5): suspend ioctl start to resume ioctl return');
  lines.push(...section('replace (linear over loop A <-> linear over loop B)', r.freeze?.replace));
  lines.push(...section('divert (linear -> snapshot over a read-only base, COW on a loop device)', r.freeze?.divert));
  lines.push('C. LVM activation (issue 12): a VG of 200 one-extent linear LVs, no udev, each spawned from Node');
  lines.push(...section('dmctl lvm activate against vgchange -ay', r.lvm));
  lines.push(...threadsSection(r.threads));
  lines.push(...backupSection(r.backup));
  lines.push(...migrateSection(r.migrate));
  if (r.cleanupProblems) lines.push(`cleanup problems: ${r.cleanupProblems.join('; ')}`);
  lines.push(`took ${r.seconds} s`);
  return lines.join('\n');
}

module.exports = { format, time, times };
