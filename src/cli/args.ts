// Argument helpers shared by the verbs: device references, numbers, sizes, table text.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import type { DeviceRef } from '../dm';
import { parseSize } from '../units';
import { usage } from './exit';

export interface Globals {
  json: boolean;
  debug: boolean;
  verbose: boolean;
}

/** The global options (--json, --debug) as any verb sees them. */
export function globals(cmd: Command): Globals {
  const o = cmd.optsWithGlobals() as { json?: boolean; debug?: boolean; verbose?: boolean };
  return { json: !!o.json, debug: !!o.debug, verbose: !!o.verbose };
}

export interface DeviceSelect {
  uuid?: string;
  major?: number;
  minor?: number;
}

/** dmsetup's ways of naming a device besides its name: -u UUID, or -j MAJOR -m MINOR. */
export function withDeviceSelect(cmd: Command): Command {
  return cmd
    .addOption(new Option('-u, --uuid <uuid>', 'the device by uuid instead of name'))
    .addOption(new Option('-j, --major <major>', 'the device by number (with --minor)').argParser(intArg('major')))
    .addOption(new Option('-m, --minor <minor>', 'the device by number (with --major)').argParser(intArg('minor')));
}

/** The device a verb addresses, or undefined when neither a name nor a selector was given. */
export function deviceRef(name: string | undefined, o: DeviceSelect): DeviceRef | undefined {
  const given = [name !== undefined, o.uuid !== undefined, o.major !== undefined || o.minor !== undefined].filter(Boolean).length;
  if (given > 1) throw usage('name the device one way only: a name, --uuid, or --major/--minor');
  if (name !== undefined) return name;
  if (o.uuid !== undefined) return { uuid: o.uuid };
  if (o.major !== undefined || o.minor !== undefined) {
    if (o.major === undefined || o.minor === undefined) throw usage('--major and --minor go together');
    return { major: o.major, minor: o.minor };
  }
  return undefined;
}

export function requireRef(name: string | undefined, o: DeviceSelect): DeviceRef {
  const ref = deviceRef(name, o);
  if (ref === undefined) throw usage('no device given: name it, or use --uuid or --major/--minor');
  return ref;
}

export function intArg(what: string, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => parseIntArg(v, what, max);
}

export function parseIntArg(v: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v)) throw usage(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n > max) throw usage(`${what} must be at most ${max}, got ${v}`);
  return n;
}

/** A size on the command line (512, 8s, 64M, 1.5G), in bytes. */
export function sizeArg(what: string) {
  return (v: string): bigint => {
    try {
      return parseSize(v);
    } catch (e) {
      throw usage(`${what}: ${(e as Error).message}`);
    }
  };
}

/** Table text from --table, a file (positional or --table-file), or stdin, as dmsetup does. */
export async function tableText(o: { table?: string; tableFile?: string }, fileArg?: string): Promise<string> {
  const sources = [o.table !== undefined, o.tableFile !== undefined, fileArg !== undefined].filter(Boolean).length;
  if (sources > 1) throw usage('give the table one way: --table, --table-file, a file argument, or stdin');
  if (o.table !== undefined) return o.table;
  const file = o.tableFile ?? fileArg;
  if (file !== undefined) {
    try {
      return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      throw usage(`cannot read the table file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return readStdin();
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('dmctl: reading the table from the terminal; end it with Ctrl-D\n');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A note on stderr when --verbose is given. */
export function note(cmd: Command, text: string): void {
  if (globals(cmd).verbose) process.stderr.write(`dmctl: ${text}\n`);
}
