// dmctl backup: an image of a live device as of one moment, with progress; Ctrl-C stops the copy
// and removes what the backup made.
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import type * as Backup from '../backup';
import { globals, intArg, sizeArg } from './args';
import { CliError, Exit, usage } from './exit';
import { lockMs, lockOption, type LockOpt } from './lock-option';
import { backup as backupLib } from './lazy';
import { json, line, size } from './output';
import { Progress } from './progress';
import { onInterrupt } from './signals';

type BackupOpts = LockOpt & { to: string; cow?: string; cowSize?: bigint; keepPartial?: boolean; blockSize?: number; chunk?: number; checksum?: 'crc32' | 'sha256'; compress?: 'gzip'; quiet?: boolean };

export function registerBackupVerbs(program: Command): void {
  lockOption(program.command('backup'))
    .description('copy a live device, as it is now, to a new file (sparse, or gzip-compressed) or a block device; verified by checksum')
    .argument('<name>', 'device name')
    .requiredOption('--to <file|dev>', 'a new file, or a block device that gets every block')
    .option('--cow <dev|file>', 'the snapshot\'s COW store: a block device, or a new file with --cow-size (default: a file beside the image, grown as needed)')
    .option('--cow-size <size>', 'create --cow as a new file of this size', sizeArg('--cow-size'))
    .option('--keep-partial', 'if the copy fails or is interrupted, keep what was copied as <file>.partial')
    .option('--block-size <bytes>', 'read size (default 1 MiB)', intArg('--block-size', 64 * 1024 * 1024))
    .addOption(new Option('--chunk <sectors>', "the snapshot's chunk size in 512-byte sectors, a power of two (default 128: 64 KiB)").argParser(intArg('--chunk', 1 << 21)))
    .addOption(new Option('--checksum <kind>', 'crc32 (default) or sha256 (what sha256sum prints)').choices(['crc32', 'sha256']))
    .addOption(new Option('--compress <kind>', 'write the file as one gzip stream (what gunzip -c prints is the image); the checksum stays the image\'s').choices(['gzip']))
    .option('-q, --quiet', 'no progress')
    .action(async (name: string, o: BackupOpts, cmd: Command) => {
      let cow: Backup.BackupOptions['cow'];
      if (o.cowSize !== undefined) {
        if (!o.cow) throw usage('--cow-size needs --cow <file>');
        cow = { file: o.cow, size: o.cowSize };
      } else if (o.cow) {
        if (!fs.statSync(o.cow, { throwIfNoEntry: false })?.isBlockDevice()) throw usage(`--cow ${o.cow} is not a block device: to use a new file, give --cow-size too`);
        cow = o.cow;
      }
      if (o.compress && fs.statSync(o.to, { throwIfNoEntry: false })?.isBlockDevice()) throw usage(`--compress needs a file: --to ${o.to} is a block device`);
      const ac = new AbortController();
      const off = onInterrupt(() => {
        ac.abort();
        process.stderr.write('dmctl: stopping the backup; removing its snapshot and partial image (Ctrl-C again to kill it half-way)\n');
      });
      const bars = { copy: o.quiet ? undefined : new Progress({ label: 'backup' }), verify: o.quiet ? undefined : new Progress({ label: 'verify' }) };
      try {
        const r = await backupLib().backup(name, {
          to: o.to, cow, keepPartial: !!o.keepPartial, blockSize: o.blockSize, chunkSectors: o.chunk, checksum: o.checksum, compress: o.compress, lockTimeoutMs: lockMs(o), signal: ac.signal,
          onProgress: (p) => {
            if (p.phase === 'verify') bars.copy?.end();
            bars[p.phase]?.update({ done: p.done, total: p.total });
          },
        });
        bars.copy?.end();
        bars.verify?.end();
        if (globals(cmd).json) return json(r);
        const holes = r.kind === 'file' && !o.compress ? `, ${size(r.holes)} left as holes` : '';
        line(`${name}: backed up to ${r.to} (${size(r.bytes)}, ${size(r.bytesWritten)} written${o.compress ? ` ${o.compress}-compressed` : ''}${holes}) in ${(r.durationMs / 1000).toFixed(1)} s; ${r.checksum}`);
      } catch (err) {
        bars.copy?.end();
        bars.verify?.end();
        if (ac.signal.aborted && (err as { state?: { asBefore?: boolean } }).state?.asBefore) {
          throw new CliError(`backup of ${name} stopped: its snapshot and partial image are removed, ${name} is on its own table`, Exit.INTERRUPTED);
        }
        throw err;
      } finally {
        off();
      }
    });
}
