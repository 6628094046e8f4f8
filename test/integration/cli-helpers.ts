// Runs the built dmctl (node dist/cli/main.js, what the package's bin points at) and dmsetup.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const DMCTL = path.join(ROOT, 'dist', 'cli', 'main.js');
export const DMSETUP = ['/usr/sbin/dmsetup', '/sbin/dmsetup'].find((p) => fs.existsSync(p));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Fails loudly when dist/ is missing or older than src/cli (npm test builds first). */
export function assertBuilt(): void {
  if (!fs.existsSync(DMCTL)) throw new Error(`${DMCTL} is missing: run npm run build (or npm run build:ts)`);
  const built = fs.statSync(DMCTL).mtimeMs;
  const srcDir = path.join(ROOT, 'src', 'cli');
  for (const f of fs.readdirSync(srcDir)) {
    const js = path.join(ROOT, 'dist', 'cli', f.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(js) || fs.statSync(path.join(srcDir, f)).mtimeMs > Math.max(fs.statSync(js).mtimeMs, built) + 1000)
      throw new Error(`dist/cli is older than src/cli/${f}: rebuild with npm run build:ts`);
  }
}

/** Runs a program without blocking the test worker (a blocked worker misses vitest's RPC). */
function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function dmctl(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return run(process.execPath, [DMCTL, ...args], opts);
}

/** dmctl that must succeed; returns stdout. */
export async function ok(args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await dmctl(args, opts);
  if (r.code !== 0) throw new Error(`dmctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** dmctl --json that must succeed; returns the parsed value. */
export async function okJson<T = any>(args: string[], opts: { input?: string } = {}): Promise<T> {
  return JSON.parse(await ok(['--json', ...args], opts)) as T;
}

/** The one line a failed dmctl prints on stderr (`dmctl: ...`); throws when it printed more or less. */
export function errorLineOf(r: Run): string {
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1 || !lines[0].startsWith('dmctl: ')) throw new Error(`dmctl (exit ${r.code}) did not print one error line: ${r.stderr}`);
  return lines[0];
}

export function dmsetup(args: string[]): Promise<Run> {
  if (!DMSETUP) throw new Error('dmsetup is not installed');
  return run(DMSETUP, args);
}

/** dmctl in the background, for verbs that wait. */
export interface Background {
  child: ReturnType<typeof spawn>;
  done: Promise<Run>;
  /** Output so far. */
  out(): Run;
}

export function dmctlBackground(args: string[], env: Record<string, string> = {}): Background {
  const child = spawn(process.execPath, [DMCTL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, out: () => ({ code: child.exitCode, stdout, stderr }) };
}

/** Resolves once the background dmctl's stdout or stderr matches. */
export async function untilOutput(b: Background, re: RegExp, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const o = b.out();
    if (re.test(o.stdout) || re.test(o.stderr)) return;
    if (o.code !== null) throw new Error(`dmctl exited ${o.code} before printing ${re}: ${o.stderr}`);
    await sleep(100);
  }
  throw new Error(`dmctl did not print ${re} within ${timeoutMs} ms`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
