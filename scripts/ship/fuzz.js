#!/usr/bin/env node
'use strict';
// Runs the libFuzzer harness for the dm-ioctl reply decoder (native/fuzz/dm_codec_fuzz.cc).
//
//   npm run fuzz -- [seconds=60] [--no-build]
//
// Seeds: regenerated each run from dm_codec_seeds (well-formed kernel replies) into
// .fuzz/seeds/. Corpus: .fuzz/corpus/, kept between runs so coverage accumulates.
// Findings: .fuzz/artifacts/ (crash-*, timeout-*, oom-*, leak-*). Any finding, sanitizer report
// or abnormal exit fails the run and prints how to reproduce it.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const tc = require('./toolchain');

const SEEDS = path.join(tc.FUZZ_DIR, 'seeds');
const CORPUS = path.join(tc.FUZZ_DIR, 'corpus');
const ARTIFACTS = path.join(tc.FUZZ_DIR, 'artifacts');

// The decoder's own functions in dm_codec.cc, for the "decoder edges covered" figure.
const DECODER_FUNCS = /dm::(Decode\(|DecodeDev|PeekFlags|\(anonymous namespace\)::(Reader::|Advance|DecodeNameList|DecodeTargets|DecodeDeps|DecodeVersions))/;

function rel(p) {
  return path.relative(tc.ROOT, p) || '.';
}

function generateSeeds() {
  fs.rmSync(SEEDS, { recursive: true, force: true });
  fs.mkdirSync(SEEDS, { recursive: true });
  const r = spawnSync(tc.SEEDER, [SEEDS], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`seed generator failed (exit ${r.status}):\n${r.stderr}`);
  return fs.readdirSync(SEEDS).length;
}

/** Edges covered in the decoder's functions by the corpus, from libFuzzer's -print_coverage. */
function decoderCoverage() {
  const r = spawnSync(tc.FUZZER, ['-runs=0', '-print_coverage=1', CORPUS, SEEDS], {
    encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' },
  });
  let covered = 0, total = 0;
  for (const line of (r.stderr + r.stdout).split('\n')) {
    const m = /^(?:UN)?COVERED_FUNC: hits: \d+ edges: (\d+)\/(\d+) (.*)$/.exec(line);
    if (m && m[3].includes('dm_codec.cc') && DECODER_FUNCS.test(m[3])) {
      covered += Number(m[1]);
      total += Number(m[2]);
    }
  }
  return total ? { covered, total } : null;
}

/** Runs the fuzzer for `seconds`; resolves to a summary (ok, execs, cov, findings, ...). */
async function runFuzz({ seconds = 60, build = true } = {}) {
  if (build) tc.buildSanitized();
  for (const d of [CORPUS, ARTIFACTS]) fs.mkdirSync(d, { recursive: true });
  const seeds = generateSeeds();
  const before = new Set(fs.readdirSync(ARTIFACTS));
  const args = [
    `-max_total_time=${seconds}`, `-artifact_prefix=${ARTIFACTS}/`, '-print_final_stats=1', '-timeout=10',
    '-rss_limit_mb=2048', '-max_len=8192', '-use_value_profile=1', '-print_pcs=0', CORPUS, SEEDS,
  ];
  tc.log(`fuzzing the reply decoder for ${seconds} s: ${rel(tc.FUZZER)} ${args.map((a) => (path.isAbsolute(a) ? rel(a) : a)).join(' ')}`);
  const t0 = Date.now();
  let out = '';
  const status = await new Promise((resolve, reject) => {
    const child = spawn(tc.FUZZER, args, { cwd: tc.ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // Progress lines are many: show pulses, findings and the final stats, not every NEW/REDUCE
    // nor the recommended dictionary.
    let inDict = false;
    const show = (line) => {
      if (/^###### Recommended dictionary/.test(line)) inDict = true;
      const quiet = inDict || /^#\d+\s+(NEW|REDUCE)\b/.test(line);
      if (/^###### End of recommended dictionary/.test(line)) inDict = false;
      if (!quiet) process.stderr.write(`${line}\n`);
    };
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream.on('data', (chunk) => {
        const s = chunk.toString('utf8');
        out += s;
        const lines = (pending + s).split('\n');
        pending = lines.pop();
        lines.forEach(show);
      });
      stream.on('end', () => pending && show(pending));
    }
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const wall = (Date.now() - t0) / 1000;
  const stat = (name) => {
    const m = new RegExp(`stat::${name}:\\s+(\\d+)`).exec(out);
    return m ? Number(m[1]) : null;
  };
  const last = [...out.matchAll(/cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
  const counters = /Loaded 1 modules\s+\((\d+) inline 8-bit counters\)/.exec(out);
  const findings = fs.readdirSync(ARTIFACTS).filter((f) => !before.has(f)).map((f) => path.join(ARTIFACTS, f));
  const written = [...out.matchAll(/Test unit written to (\S+)/g)].map((m) => path.resolve(tc.ROOT, m[1]));
  for (const w of written) if (!findings.includes(w)) findings.push(w);
  const report = tc.findReport(out);
  const summary = {
    ok: status === 0 && findings.length === 0 && !report,
    status, seconds: wall, seeds,
    execs: stat('number_of_executed_units'),
    execPerSec: stat('average_exec_per_sec'),
    cov: last ? Number(last[1]) : null,
    features: last ? Number(last[2]) : null,
    corpus: last ? Number(last[3]) : null,
    counters: counters ? Number(counters[1]) : null,
    decoder: null,
    findings, report,
  };
  if (summary.ok) summary.decoder = decoderCoverage();
  return summary;
}

function describe(s) {
  const parts = [
    `${s.execs ?? '?'} execs (${s.execPerSec ?? '?'}/s) in ${s.seconds.toFixed(1)} s`,
    `cov ${s.cov ?? '?'} of ${s.counters ?? '?'} edges, ft ${s.features ?? '?'}, corpus ${s.corpus ?? '?'} (${s.seeds} seeds)`,
  ];
  if (s.decoder) parts.push(`decoder functions: ${s.decoder.covered}/${s.decoder.total} edges`);
  parts.push(`${s.findings.length} findings`);
  if (s.report) parts.push(`report: ${s.report}`);
  if (!s.ok && s.findings.length === 0) parts.push(`fuzzer exit ${s.status}`);
  return parts.join('; ');
}

function printFindings(s) {
  for (const f of s.findings) {
    tc.log(`finding: ${rel(f)}`);
    tc.log(`  reproduce: ${rel(tc.FUZZER)} ${rel(f)}`);
  }
}

module.exports = { runFuzz, describe, printFindings };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const build = !argv.includes('--no-build');
  const num = argv.find((a) => /^\d+$/.test(a));
  const unknown = argv.filter((a) => a !== '--no-build' && a !== num);
  if (unknown.length) {
    process.stderr.write(`usage: npm run fuzz -- [seconds=60] [--no-build]\n`);
    process.exit(2);
  }
  runFuzz({ seconds: num ? Number(num) : 60, build }).then(
    (s) => {
      tc.log(`fuzz: ${s.ok ? 'OK' : 'FAILED'}: ${describe(s)}`);
      printFindings(s);
      process.exit(s.ok ? 0 : 1);
    },
    (e) => {
      tc.log(`fuzz: ERROR: ${e.message}`);
      process.exit(2);
    },
  );
}
