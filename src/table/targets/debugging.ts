// Targets for testing storage stacks: flakey (dm-flakey.c), delay (dm-delay.c), log-writes (dm-log-writes.c).
import { parseOptArgs, parseU64, statusReader, type ArgReader } from '../args';
import { TableError } from '../errors';
import type { DevRef } from '../devref';
import type { FeatureNeed, FieldProblem, TargetBase, TargetDescriptor } from '../types';
import { parseEmptyStatus, type EmptyStatus } from './basic';

/**
 * From Linux 6.5 the kernel spells out its default: a table with none of error_reads, drop_writes,
 * error_writes, corrupt_bio_byte, random_*_corrupt reads back with errorReads and errorWrites set
 * (what such a table did all along: fail all I/O while down); 6.1 reads it back as it was loaded,
 * with a space after every word. readTable gives the kernel's words either way.
 */
export interface FlakeyTarget extends TargetBase {
  type: 'flakey';
  device: DevRef;
  offset: bigint;
  /** Seconds the device behaves, then misbehaves, in turn. */
  upInterval: number;
  downInterval: number;
  /** Linux 6.5 and later. */
  errorReads?: boolean;
  /** Exclusive with errorWrites. */
  dropWrites?: boolean;
  errorWrites?: boolean;
  corruptBioByte?: { nthByte: number; direction: 'r' | 'w'; value: number; flags: number };
  /** Probability in units of 1/1,000,000,000 (Linux 6.5 and later, as is randomWriteCorrupt). */
  randomReadCorrupt?: number;
  randomWriteCorrupt?: number;
}

/** One device of a delay target with its delay in ms. */
export interface DelayPath {
  device: DevRef;
  offset: bigint;
  /** Milliseconds. */
  delay: number;
}

/** The `delay` target: delays reads, writes and flushes. */
export interface DelayTarget extends TargetBase {
  type: 'delay';
  read: DelayPath;
  /** Absent: writes go where reads go, with the same delay. */
  write?: DelayPath;
  /** Only with write. */
  flush?: DelayPath;
}

/** Status of a delay target: the reads, writes and flushes it holds delayed now. */
export interface DelayStatus {
  readOps: number;
  writeOps: number;
  flushOps?: number;
}

/** The `log-writes` target: logs every write to a log device. */
export interface LogWritesTarget extends TargetBase {
  type: 'log-writes';
  device: DevRef;
  logDevice: DevRef;
}

/** Status of a log-writes target: entries logged and the highest log sector used. */
export interface LogWritesStatus {
  loggedEntries: bigint;
  highestAllocatedSector: bigint;
}

const FLAKEY_ARITY = { corrupt_bio_byte: 4, random_read_corrupt: 1, random_write_corrupt: 1 };

// flakey_status, STATUSTYPE_TABLE: "<dev> <offset> <up> <down> <n>" with <n> printed even when 0
// (counting words: corrupt_bio_byte is 5, random_*_corrupt 2), then error_reads, drop_writes or
// error_writes, corrupt_bio_byte <N> <r|w> <value> <flags>, random_read_corrupt, random_write_corrupt.
export const flakey: TargetDescriptor<FlakeyTarget, EmptyStatus> = {
  type: 'flakey',
  parse(a: ArgReader) {
    const out: Omit<FlakeyTarget, 'start' | 'length' | 'type'> = {
      device: a.next('device'),
      offset: a.u64('offset'),
      upInterval: a.u32('up interval'),
      downInterval: a.u32('down interval'),
    };
    for (const o of parseOptArgs(a.counted('features'), FLAKEY_ARITY)) {
      const v = o.values;
      if (o.name === 'error_reads') out.errorReads = true;
      else if (o.name === 'drop_writes') out.dropWrites = true;
      else if (o.name === 'error_writes') out.errorWrites = true;
      else if (o.name === 'corrupt_bio_byte') {
        if (v[1] !== 'r' && v[1] !== 'w') throw new TableError('corrupt_bio_byte: direction must be r or w', 'syntax');
        out.corruptBioByte = { nthByte: Number(parseU64(v[0], 'corrupt_bio_byte')), direction: v[1], value: Number(parseU64(v[2], 'corrupt_bio_byte value')), flags: Number(parseU64(v[3], 'corrupt_bio_byte flags')) };
      } else if (o.name === 'random_read_corrupt') out.randomReadCorrupt = Number(parseU64(v[0], o.name));
      else if (o.name === 'random_write_corrupt') out.randomWriteCorrupt = Number(parseU64(v[0], o.name));
      else throw new TableError(`unknown feature ${JSON.stringify(o.name)}`, 'syntax');
    }
    a.end();
    return out;
  },
  format(t, dev) {
    const words: string[] = [];
    if (t.errorReads) words.push('error_reads');
    if (t.dropWrites) words.push('drop_writes');
    else if (t.errorWrites) words.push('error_writes');
    const c = t.corruptBioByte;
    if (c && c.nthByte > 0) words.push('corrupt_bio_byte', String(c.nthByte), c.direction, String(c.value), String(c.flags));
    if (t.randomReadCorrupt) words.push('random_read_corrupt', String(t.randomReadCorrupt));
    if (t.randomWriteCorrupt) words.push('random_write_corrupt', String(t.randomWriteCorrupt));
    return [dev(t.device), t.offset, t.upInterval, t.downInterval, words.length, ...words].join(' ');
  },
  // flakey_status, STATUSTYPE_INFO: nothing.
  parseStatus: parseEmptyStatus,
  devices: (t) => [{ ref: t.device, role: 'device', end: t.offset + t.length }],
  features(t) {
    // Linux 6.5 added these to dm-flakey and left its version at 1.5.0, which 6.1 reports too.
    const out: FeatureNeed[] = [];
    if (t.errorReads) out.push({ feature: 'error_reads', version: [1, 5, 0], linux: [6, 5] });
    if (t.randomReadCorrupt) out.push({ feature: 'random_read_corrupt', version: [1, 5, 0], linux: [6, 5] });
    if (t.randomWriteCorrupt) out.push({ feature: 'random_write_corrupt', version: [1, 5, 0], linux: [6, 5] });
    return out;
  },
  check(t) {
    const out: FieldProblem[] = [];
    if (t.dropWrites && t.errorWrites) out.push({ rule: 'field', message: 'drop_writes and error_writes exclude each other' });
    if (t.corruptBioByte && t.corruptBioByte.nthByte === 0) out.push({ rule: 'field', message: 'corrupt_bio_byte counts from 1' });
    return out;
  },
};

function readPath(a: ArgReader, which: string): DelayPath {
  return { device: a.next(`${which} device`), offset: a.u64(`${which} offset`), delay: a.u32(`${which} delay`) };
}

const fmtPath = (p: DelayPath, dev: (r: DevRef) => string) => `${dev(p.device)} ${p.offset} ${p.delay}`;

// delay_status, STATUSTYPE_TABLE: the read triple, then the write triple if 6+ args were given,
// then the flush triple if 9. STATUSTYPE_INFO: "<read ops> <write ops> <flush ops>" (older kernels: two).
export const delay: TargetDescriptor<DelayTarget, DelayStatus> = {
  type: 'delay',
  parse(a) {
    const out: Omit<DelayTarget, 'start' | 'length' | 'type'> = { read: readPath(a, 'read') };
    if (a.remaining) out.write = readPath(a, 'write');
    if (a.remaining) out.flush = readPath(a, 'flush');
    a.end();
    return out;
  },
  format: (t, dev) => [t.read, t.write, t.write && t.flush].filter((p): p is DelayPath => !!p).map((p) => fmtPath(p, dev)).join(' '),
  parseStatus(status) {
    const a = statusReader(status);
    const out: DelayStatus = { readOps: a.u32('read ops'), writeOps: a.u32('write ops') };
    if (a.remaining) out.flushOps = a.u32('flush ops');
    a.end();
    return out;
  },
  devices: (t) =>
    (['read', 'write', 'flush'] as const).flatMap((k) => {
      const p = t[k];
      return p ? [{ ref: p.device, role: `${k} device`, end: p.offset + t.length }] : [];
    }),
  check: (t) => (t.flush && !t.write ? [{ rule: 'field', message: 'a flush path needs a write path' }] : []),
};

// log_writes_status: TABLE "<dev> <log dev>", INFO "<logged entries> <highest allocated sector>".
export const logWrites: TargetDescriptor<LogWritesTarget, LogWritesStatus> = {
  type: 'log-writes',
  parse(a) {
    const out = { device: a.next('device'), logDevice: a.next('log device') };
    a.end();
    return out;
  },
  format: (t, dev) => `${dev(t.device)} ${dev(t.logDevice)}`,
  parseStatus(status) {
    const a = statusReader(status);
    const out = { loggedEntries: a.u64('logged entries'), highestAllocatedSector: a.u64('highest allocated sector') };
    a.end();
    return out;
  },
  devices: (t) => [
    { ref: t.device, role: 'device', end: t.length },
    { ref: t.logDevice, role: 'log device' },
  ],
};
