#!/usr/bin/env node
// dmctl: dmsetup's verbs, loop devices, and devmapper's live operations. See docs/cli.md.
import { Command, CommanderError } from 'commander';
import { registerChangeVerbs } from './dmsetup-change';
import { registerQueryVerbs } from './dmsetup-query';
import { errorLine, Exit, exitCodeOf } from './exit';
import { registerLiveVerbs } from './live';
import { registerBackupVerbs } from './backup';
import { registerMigrateVerbs } from './migrate';
import { registerLoopVerbs } from './loop';
import { registerMonitorVerbs } from './monitor';
import { registerLvmVerbs } from './lvm';
import { registerPartsVerbs } from './parts';
// devmapper's own devices (bases, snapshots) get their udev flags from every verb, also dmsetup's.
import '../ops/naming';

const pkg = require('../../package.json') as { version: string };

const EXIT_HELP = `
Exit codes:
  0    success
  1    other failure
  2    bad command line (unknown verb or option, missing argument, bad number or size)
  3    the table does not parse or breaks a rule; nothing was sent to the kernel
  4    no such device (or file)
  5    device busy (open, mounted, or held by another device)
  6    refused by the kernel (see dmesg)
  7    a device with that name or uuid already exists
  8    permission denied (device-mapper needs root)
  9    this kernel has no device-mapper
  10   a live operation could not finish (the device is left as the message says)
  130  interrupted (Ctrl-C)

Every verb that reports takes --json (shapes in docs/cli.md). Errors are one line on stderr;
--debug (or DMCTL_DEBUG=1) adds the stack.`;

export function buildProgram(): Command {
  const program = new Command('dmctl')
    .description('device-mapper and loop devices from the command line: dmsetup\'s verbs plus atomic live operations')
    .version(pkg.version, '-V, --version', 'print dmctl\'s version')
    .option('--json', 'print machine-readable JSON on stdout')
    .option('--debug', 'show the stack of an error')
    .option('-v, --verbose', 'say on stderr what is being done')
    .option('--state-dir <dir>', 'where the records of live arrangements are kept (default /var/lib/devmapper, or DEVMAPPER_STATE_DIR)')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`dmctl: ${str.replace(/^error: /, '')}`) })
    .addHelpText('after', EXIT_HELP)
    .hook('preAction', (cmd) => {
      const dir = (cmd.opts() as { stateDir?: string }).stateDir;
      if (dir) process.env.DEVMAPPER_STATE_DIR = dir;
    });
  registerQueryVerbs(program);
  registerChangeVerbs(program);
  registerLoopVerbs(program);
  registerLiveVerbs(program);
  registerBackupVerbs(program);
  registerMigrateVerbs(program);
  registerMonitorVerbs(program);
  registerPartsVerbs(program);
  registerLvmVerbs(program);
  return program;
}

function debugWanted(argv: string[]): boolean {
  return argv.includes('--debug') || process.env.DMCTL_DEBUG === '1';
}

export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Exit.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? Exit.OK : Exit.USAGE;
    }
    process.stderr.write(`dmctl: ${errorLine(err)}\n`);
    if (debugWanted(argv) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCodeOf(err);
  }
}

if (require.main === module) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(Exit.OK);
  });
  void main().then((code) => {
    process.exitCode = code;
  });
}
