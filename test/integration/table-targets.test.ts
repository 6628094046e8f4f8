// Every typed target, loaded from a typed table into the real kernel (QEMU rig, root) on loop
// devices, then read back: the kernel's table text must survive parse → format byte for byte,
// the typed fields must be what was loaded, and dmsetup must print the same lines.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import {
  CryptKey, formatTable, isTargetType, parseTable,
  type CacheStatus, type IntegrityTarget, type MirrorStatus, type SnapshotStatus, type Table, type TargetOf, type ThinPoolStatus,
} from '../../src/table';
import { loadTable, readStatus, readTable, statusAs } from '../../src/table/kernel';
import { linuxAtLeast } from '../../src/table/validate';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { canonical, devNum, dmsetup, kernelStatusText, kernelTableText, makeDevice, MiB, readFresh, verityTree, writeAt } from '../helpers/table';

const { loop } = useTestDevices();

const sectors = (bytes: number) => BigInt(bytes / 512);

/**
 * The round trip every target must pass: the kernel's text parses and formats back to itself byte for
 * byte, readTable gives those same typed targets, and dmsetup prints the same text. Returns the parse.
 */
async function roundTrip(name: string, o: { showKeys?: boolean } = {}) {
  const text = await kernelTableText(name);
  const parsed = parseTable(text);
  expect(formatTable(parsed)).toBe(text);
  expect(await readTable(name)).toEqual(parsed);
  expect(dmsetup('table', ...(o.showKeys ? ['--showkeys'] : []), name)).toBe(text);
  return { text, parsed };
}

/**
 * The status text from TABLE_STATUS, dmsetup's status, and the typed statuses. Some targets update
 * their status from a worker a moment after I/O (log-writes logs in its own thread), so the
 * comparison with dmsetup is made once two readings around it agree.
 */
async function statusOf(name: string) {
  for (let i = 0; ; i++) {
    const text = await kernelStatusText(name);
    const shown = dmsetup('status', name);
    const typed = await readStatus(name);
    if ((await kernelStatusText(name)) === text || i === 20) {
      expect(shown).toBe(text);
      return { text, typed };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Loads, reads back, and checks the typed fields are exactly what was loaded (devices as "M:m"). */
async function loadsAndRoundTrips(tag: string, table: Table, o: { showKeys?: boolean; readOnly?: boolean; trailingSpace?: boolean } = {}) {
  const name = await makeDevice(tag, table, { readOnly: o.readOnly });
  const { text, parsed } = await roundTrip(name, o);
  expect(parsed).toEqual(canonical(table));
  // What was loaded is what the kernel prints, save for a trailing space some kernels add (6.1's flakey).
  const echo = o.trailingSpace ? formatTable(table).replace(/\n/g, ' \n') : formatTable(table);
  expect(text).toBe(echo);
  return { name, text, parsed };
}

describe('linear, striped, zero, error', () => {
  it('linear: two segments of one loop device round-trip, status empty', async () => {
    const l = await loop();
    const { name, text } = await loadsAndRoundTrips('linear', [
      { start: 0n, length: 8192n, type: 'linear', device: l.path, offset: 0n },
      { start: 8192n, length: 4096n, type: 'linear', device: devNum(l), offset: 20000n },
    ]);
    expect(text).toBe(`0 8192 linear ${devNum(l)} 0\n8192 4096 linear ${devNum(l)} 20000\n`);
    const { text: st, typed } = await statusOf(name);
    expect(st).toBe('0 8192 linear \n8192 4096 linear \n');
    expect(typed.map((s) => s.status)).toEqual([{}, {}]);
  });

  it('striped: two stripes of 64 KiB chunks; status names both stripes alive', async () => {
    const a = await loop();
    const b = await loop();
    const { name } = await loadsAndRoundTrips('striped', [
      { start: 0n, length: 2n * sectors(16 * MiB), type: 'striped', chunkSize: 128n, stripes: [{ device: a.path, offset: 0n }, { device: { major: b.major, minor: b.minor }, offset: 0n }] },
    ]);
    const { text, typed } = await statusOf(name);
    expect(text).toBe(`0 65536 striped 2 ${devNum(a)} ${devNum(b)} 1 AA\n`);
    expect(statusAs(typed[0], 'striped')).toEqual({ devices: [devNum(a), devNum(b)], health: ['A', 'A'] });
  });

  it('zero and error: a table of both round-trips', async () => {
    const { name, text } = await loadsAndRoundTrips('zero-error', [
      { start: 0n, length: 2048n, type: 'zero' },
      { start: 2048n, length: 2048n, type: 'error' },
    ]);
    expect(text).toBe('0 2048 zero \n2048 2048 error \n');
    expect((await statusOf(name)).typed.map((s) => [s.type, s.status])).toEqual([['zero', {}], ['error', {}]]);
  });
});

describe('snapshot-origin, snapshot, snapshot-merge', () => {
  it('an origin with N, P, PO and discard-feature snapshots: every table and status round-trips', async () => {
    const base = await loop();
    const len = sectors(16 * MiB);
    const origin = await makeDevice('origin', [{ start: 0n, length: len, type: 'snapshot-origin', origin: base.path }]);
    await roundTrip(origin);
    expect((await statusOf(origin)).text).toBe(`0 ${len} snapshot-origin \n`);

    const cases = [
      { tag: 'snap-n', store: 'N', chunkSize: 8n },
      { tag: 'snap-p', store: 'P', chunkSize: 16n },
      { tag: 'snap-po', store: 'PO', chunkSize: 32n },
      { tag: 'snap-discard', store: 'P', chunkSize: 8n, discardZeroesCow: true, discardPassdownOrigin: true },
      { tag: 'snap-dzc', store: 'PO', chunkSize: 8n, discardZeroesCow: true },
    ] as const;
    for (const c of cases) {
      const cow = await loop(4 * MiB);
      const { tag, ...fields } = c;
      // The origin is suspended while a snapshot of it is loaded (dm-snap's ordering rule).
      await dm.suspend(origin);
      let name: string;
      try {
        ({ name } = await loadsAndRoundTrips(tag, [{ start: 0n, length: len, type: 'snapshot', origin: base.path, cow: cow.path, ...fields }]));
      } finally {
        await dm.resume(origin);
      }
      const { text, typed } = await statusOf(name);
      const s = statusAs(typed[0], 'snapshot');
      // A persistent store writes its header chunk (and a first metadata chunk) at once; a transient one holds nothing.
      const meta = c.store === 'N' ? 0n : 2n * c.chunkSize;
      expect(s).toEqual({ state: 'active', allocated: meta, total: sectors(4 * MiB), metadata: meta });
      expect(text).toBe(`0 ${len} snapshot ${meta}/${sectors(4 * MiB)} ${meta}\n`);
    }
    const text = await kernelTableText(testName('snap-discard'));
    expect(text).toMatch(/ P 8 2 discard_zeroes_cow discard_passdown_origin\n$/);
  });

  it('snapshot-merge: writes made through a snapshot merge back into the origin, and the merge reports completion', async () => {
    const base = await loop();
    const cow = await loop(4 * MiB);
    const len = sectors(16 * MiB);
    const original = randomBytes(64 * 1024);
    writeAt(base.path, 0, original);
    const origin = await makeDevice('m-origin', [{ start: 0n, length: len, type: 'snapshot-origin', origin: base.path }]);
    await dm.suspend(origin);
    const snap = await makeDevice('m-snap', [{ start: 0n, length: len, type: 'snapshot', origin: base.path, cow: cow.path, store: 'P', chunkSize: 8n }]).finally(() => dm.resume(origin));
    const changed = randomBytes(64 * 1024);
    writeAt(dm.nodePath(snap), 0, changed);
    const before = statusAs((await readStatus(snap))[0], 'snapshot');
    expect(before).toMatchObject({ state: 'active', allocated: 16n + 16n * 8n, metadata: 16n });

    // The merge replaces the origin's table; the snapshot device is suspended first, then removed.
    await dm.suspend(snap);
    await dm.suspend(origin);
    const merge: TargetOf<'snapshot-merge'> = { start: 0n, length: len, type: 'snapshot-merge', origin: base.path, cow: cow.path, store: 'P', chunkSize: 8n };
    await loadTable(origin, [merge]);
    await dm.resume(origin);
    await dm.remove(snap);

    let s: SnapshotStatus = statusAs((await readStatus(origin))[0], 'snapshot-merge');
    for (const end = Date.now() + 30_000; !(s.state === 'active' && s.allocated === s.metadata); ) {
      if (Date.now() > end) throw new Error(`merge did not complete: ${JSON.stringify(s, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
      await new Promise((r) => setTimeout(r, 50));
      s = statusAs((await readStatus(origin))[0], 'snapshot-merge');
    }
    expect(s).toEqual({ state: 'active', allocated: 16n, total: sectors(4 * MiB), metadata: 16n });
    const { parsed } = await roundTrip(origin);
    expect(parsed).toEqual(canonical([merge]));
    expect((await statusOf(origin)).text).toBe(`0 ${len} snapshot-merge 16/${sectors(4 * MiB)} 16\n`);
    expect(readFresh(dm.nodePath(origin), 0, changed.length).equals(changed)).toBe(true);
  });
});

describe('crypt', () => {
  const hexKey = randomBytes(64).toString('hex');

  it('aes-xts-plain64 with a 512-bit key: the key comes back only with --showkeys-style secure reads, and data is encrypted on disk', async () => {
    const l = await loop();
    const key = CryptKey.fromHex(hexKey);
    const table: Table = [{ start: 0n, length: sectors(16 * MiB), type: 'crypt', cipher: 'aes-xts-plain64', key, ivOffset: 0n, device: l.path, offset: 0n }];
    const { name, parsed, text } = await loadsAndRoundTrips('crypt', table, { showKeys: true });
    expect(text).toBe(`0 32768 crypt aes-xts-plain64 ${hexKey} 0 ${devNum(l)} 0\n`);
    const back = parsed[0];
    if (!isTargetType(back, 'crypt')) throw new Error('not a typed crypt target');
    expect(back.key.equals(key)).toBe(true);
    expect(back.key.size).toBe(64);
    expect((await statusOf(name)).text).toBe('0 32768 crypt \n');
    const plain = Buffer.alloc(4096, 0x5a);
    writeAt(dm.nodePath(name), 0, plain);
    expect(readFresh(dm.nodePath(name), 0, 4096).equals(plain)).toBe(true);
    expect(readFresh(l.path, 0, 4096).equals(plain)).toBe(false);
  });

  it('crypt with optional parameters (discards, same_cpu_crypt, 4096-byte sectors, iv_large_sectors) round-trips', async () => {
    const l = await loop();
    await loadsAndRoundTrips('crypt-opts', [
      {
        start: 0n, length: 16384n, type: 'crypt', cipher: 'aes-xts-plain64', key: CryptKey.fromHex(hexKey), ivOffset: 8n, device: l.path, offset: 8n,
        allowDiscards: true, sameCpuCrypt: true, sectorSize: 4096, ivLargeSectors: true,
      },
    ], { showKeys: true });
  });
});

describe('flakey, delay, log-writes', () => {
  // Linux 6.1 ends each flakey line with a space, which the parse keeps; from 6.5 the kernel spells
  // out the default of a table without features (error_reads error_writes). Given the kernel's
  // spelling, each table reads back exactly as loaded.
  it('flakey: plain, drop_writes, and corrupt_bio_byte tables round-trip in the kernel\'s spelling', async () => {
    const l = await loop();
    const dev = { major: l.major, minor: l.minor };
    const spelledOut = linuxAtLeast(os.release(), [6, 5]);
    const { name } = await loadsAndRoundTrips('flakey', [
      { start: 0n, length: 4096n, type: 'flakey', device: dev, offset: 0n, upInterval: 60, downInterval: 0, ...(spelledOut ? { errorReads: true, errorWrites: true } : {}) },
      { start: 4096n, length: 4096n, type: 'flakey', device: dev, offset: 4096n, upInterval: 5, downInterval: 1, dropWrites: true },
      { start: 8192n, length: 4096n, type: 'flakey', device: dev, offset: 8192n, upInterval: 5, downInterval: 1, corruptBioByte: { nthByte: 32, direction: 'w', value: 1, flags: 0 } },
    ], { trailingSpace: !spelledOut });
    expect((await statusOf(name)).typed.map((t) => t.status)).toEqual([{}, {}, {}]);
  });

  it('flakey without features reads back as loaded on 6.1, with error_reads error_writes from 6.5', async () => {
    const l = await loop();
    const name = await makeDevice('flakey-default', [{ start: 0n, length: 4096n, type: 'flakey', device: l.path, offset: 0n, upInterval: 60, downInterval: 0 }]);
    const spelledOut = linuxAtLeast(os.release(), [6, 5]);
    expect(await kernelTableText(name)).toBe(`0 4096 flakey ${devNum(l)} 0 60 0 ${spelledOut ? '2 error_reads error_writes' : '0 '}\n`);
    const [t] = await readTable(name);
    expect(t).toMatchObject(spelledOut ? { errorReads: true, errorWrites: true } : {});
    if (!spelledOut) expect(t).not.toHaveProperty('errorReads');
  });

  it('delay: read-only, read+write and read+write+flush paths; status counts operations', async () => {
    const a = await loop();
    const b = await loop();
    const { name } = await loadsAndRoundTrips('delay', [
      { start: 0n, length: 4096n, type: 'delay', read: { device: a.path, offset: 0n, delay: 0 } },
      { start: 4096n, length: 4096n, type: 'delay', read: { device: a.path, offset: 4096n, delay: 1 }, write: { device: b.path, offset: 0n, delay: 2 } },
      {
        start: 8192n, length: 4096n, type: 'delay', read: { device: a.path, offset: 8192n, delay: 0 }, write: { device: b.path, offset: 4096n, delay: 0 },
        flush: { device: b.path, offset: 4096n, delay: 3 },
      },
    ]);
    const { typed } = await statusOf(name);
    for (const s of typed) expect(statusAs(s, 'delay')).toMatchObject({ readOps: 0, writeOps: 0 });
  });

  it('log-writes: table round-trips; status counts logged entries after a write', async () => {
    const data = await loop();
    const log = await loop();
    const { name } = await loadsAndRoundTrips('log-writes', [{ start: 0n, length: sectors(16 * MiB), type: 'log-writes', device: data.path, logDevice: log.path }]);
    const first = statusAs((await statusOf(name)).typed[0], 'log-writes');
    writeAt(dm.nodePath(name), 0, Buffer.alloc(4096, 1));
    // The log is written by the target's own thread, a moment after the write completes.
    let later = statusAs((await statusOf(name)).typed[0], 'log-writes');
    for (const end = Date.now() + 10_000; later.loggedEntries === first.loggedEntries && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 50));
      later = statusAs((await statusOf(name)).typed[0], 'log-writes');
    }
    expect(later.loggedEntries).toBeGreaterThan(first.loggedEntries);
    expect(later.highestAllocatedSector).toBeGreaterThan(first.highestAllocatedSector);
  });
});

describe('thin-pool and thin', () => {
  it('a pool on metadata + data loop devices, a thin device made by create_thin, both round-trip; writes map blocks', async () => {
    const meta = await loop(8 * MiB);
    const data = await loop(32 * MiB);
    const poolTable: Table = [{ start: 0n, length: sectors(32 * MiB), type: 'thin-pool', metadataDevice: meta.path, dataDevice: data.path, blockSize: 128n, lowWaterMark: 16n, skipBlockZeroing: true }];
    const { name: pool, text } = await loadsAndRoundTrips('pool', poolTable);
    expect(text).toBe(`0 65536 thin-pool ${devNum(meta)} ${devNum(data)} 128 16 1 skip_block_zeroing \n`);
    await dm.targetMessage(pool, 0, 'create_thin 0');
    const info = await dm.info(pool);
    const { name: thin } = await loadsAndRoundTrips('thin', [{ start: 0n, length: 131072n, type: 'thin', poolDevice: dm.nodePath(pool), deviceId: 0 }]);
    expect(await kernelTableText(thin)).toBe(`0 131072 thin ${devNum(info)} 0\n`);

    const ps = statusAs((await statusOf(pool)).typed[0], 'thin-pool') as Extract<ThinPoolStatus, { state: 'ok' }>;
    expect(ps).toMatchObject({ state: 'ok', transactionId: 0n, usedDataBlocks: 0n, totalDataBlocks: 512n, mode: 'rw', needsCheck: false });
    expect(statusAs((await statusOf(thin)).typed[0], 'thin')).toEqual({ state: 'ok', mappedSectors: 0n });

    writeAt(dm.nodePath(thin), 1024 * 1024, Buffer.alloc(128 * 1024, 7));
    expect(statusAs((await statusOf(thin)).typed[0], 'thin')).toEqual({ state: 'ok', mappedSectors: 256n, highestMappedSector: 2048n + 255n });
    const after = statusAs((await statusOf(pool)).typed[0], 'thin-pool');
    expect(after).toMatchObject({ state: 'ok', usedDataBlocks: 2n });
  });
});

describe('mirror', () => {
  it('two legs with a core log (nosync) and handle_errors round-trip; status shows both legs in sync', async () => {
    const a = await loop();
    const b = await loop();
    const { name } = await loadsAndRoundTrips('mirror', [
      { start: 0n, length: sectors(16 * MiB), type: 'mirror', log: { type: 'core', args: ['1024', 'nosync'] }, legs: [{ device: a.path, offset: 0n }, { device: b.path, offset: 0n }], handleErrors: true },
    ]);
    const s: MirrorStatus = statusAs((await statusOf(name)).typed[0], 'mirror');
    expect(s).toEqual({ devices: [devNum(a), devNum(b)], health: ['A', 'A'], inSyncRegions: 32n, totalRegions: 32n, log: ['core'] });
  });
});

describe('cache', () => {
  it('smq cache over metadata, cache and origin loop devices round-trips; status is typed', async () => {
    const meta = await loop(8 * MiB);
    const fast = await loop(16 * MiB);
    const origin = await loop(32 * MiB);
    const { name } = await loadsAndRoundTrips('cache', [
      {
        start: 0n, length: sectors(32 * MiB), type: 'cache', metadataDevice: meta.path, cacheDevice: fast.path, originDevice: origin.path,
        blockSize: 64n, features: ['writethrough'], policy: 'smq', policyArgs: ['migration_threshold', '2048'],
      },
    ]);
    const s = statusAs((await statusOf(name)).typed[0], 'cache') as Extract<CacheStatus, { state: 'ok' }>;
    expect(s).toMatchObject({ state: 'ok', cacheBlockSize: 64n, totalCacheBlocks: 512n, policy: 'smq', dirty: 0n, needsCheck: false });
    expect(s.features).toContain('writethrough');
  });
});

describe('verity', () => {
  it('a hash tree built here verifies: table round-trips, reads succeed with status V, a corrupted block reads as EIO with status C', async () => {
    const data = await loop(4 * MiB);
    const hash = await loop(1 * MiB);
    const content = randomBytes(4 * MiB);
    const salt = randomBytes(32);
    const tree = verityTree(content, { salt });
    writeAt(data.path, 0, content);
    writeAt(hash.path, 0, tree.hash);
    const { name } = await loadsAndRoundTrips('verity', [
      {
        start: 0n, length: sectors(4 * MiB), type: 'verity', version: 1, dataDevice: data.path, hashDevice: hash.path, dataBlockSize: 4096, hashBlockSize: 4096,
        dataBlocks: BigInt(tree.dataBlocks), hashStart: 0n, algorithm: 'sha256', rootDigest: tree.root, salt: salt.toString('hex'), options: [],
      },
    ], { readOnly: true });
    expect(readFresh(dm.nodePath(name), 0, 4 * MiB).equals(content)).toBe(true);
    expect(statusAs((await statusOf(name)).typed[0], 'verity')).toMatchObject({ valid: true });

    const bad = Buffer.from(content.subarray(8192, 12288));
    bad[0] ^= 0xff;
    writeAt(data.path, 8192, bad);
    expect(() => readFresh(dm.nodePath(name), 8192, 4096)).toThrow(/EIO/);
    expect(statusAs((await statusOf(name)).typed[0], 'verity')).toMatchObject({ valid: false });
  });

  it('verity with optional arguments (ignore_zero_blocks, check_at_most_once) round-trips', async () => {
    const data = await loop(4 * MiB);
    const hash = await loop(1 * MiB);
    const content = randomBytes(4 * MiB);
    const tree = verityTree(content, { salt: Buffer.alloc(0) });
    writeAt(data.path, 0, content);
    writeAt(hash.path, 0, tree.hash);
    const { text } = await loadsAndRoundTrips('verity-opts', [
      {
        start: 0n, length: sectors(4 * MiB), type: 'verity', version: 1, dataDevice: data.path, hashDevice: hash.path, dataBlockSize: 4096, hashBlockSize: 4096,
        dataBlocks: BigInt(tree.dataBlocks), hashStart: 0n, algorithm: 'sha256', rootDigest: tree.root, salt: '',
        options: [{ name: 'ignore_zero_blocks', values: [] }, { name: 'check_at_most_once', values: [] }],
      },
    ], { readOnly: true });
    expect(text).toMatch(/ sha256 [0-9a-f]{64} - 2 ignore_zero_blocks check_at_most_once\n$/);
  });
});

describe('integrity', () => {
  /** The kernel prints the options it chose besides those given: every given one must be among them. */
  function expectLoaded(back: IntegrityTarget, given: IntegrityTarget): void {
    const { options, ...rest } = canonical([given])[0] as IntegrityTarget;
    const { options: backOptions, ...backRest } = back;
    expect(backRest).toEqual(rest);
    for (const o of options) expect(backOptions).toContainEqual(o);
  }

  for (const mode of ['J', 'D'] as const) {
    it(`standalone ${mode} mode with crc32c tags round-trips; status reports the provided data sectors`, async () => {
      const l = await loop();
      const given: IntegrityTarget = { start: 0n, length: 16384n, type: 'integrity', device: l.path, offset: 0n, tagSize: 4, mode, options: [{ name: 'internal_hash', value: 'crc32c' }] };
      // dm-integrity formats a zeroed device on load; the length must fit what it provides, so load 8 MiB of 16.
      const name = testName(`integrity-${mode}`);
      await dm.create(name);
      await loadTable(name, [given]);
      await dm.resume(name);
      const { parsed, text } = await roundTrip(name);
      expect(text.startsWith(`0 16384 integrity ${devNum(l)} 0 4 ${mode} `)).toBe(true);
      expectLoaded(parsed[0] as IntegrityTarget, given);
      // Sectors never written have no valid tags (integritysetup wipes a new device first): where
      // udev runs, its probes (blkid on the resume's event, and again on the change event its
      // watch raises when a writer closes the device) read some and count mismatches. So the count
      // is taken once every sector is written: from then on no read (ours, or udev's) adds any.
      const s = statusAs((await statusOf(name)).typed[0], 'integrity');
      expect(s.providedDataSectors).toBeGreaterThanOrEqual(16384n);
      const data = randomBytes(Number(given.length) * 512);
      writeAt(dm.nodePath(name), 0, data);
      const written = statusAs((await statusOf(name)).typed[0], 'integrity').mismatches;
      expect(readFresh(dm.nodePath(name), 4096, 4096).equals(data.subarray(4096, 8192))).toBe(true);
      expect(statusAs((await statusOf(name)).typed[0], 'integrity').mismatches).toBe(written);
    });
  }

  it('keyed integrity (hmac(sha256)) is loaded with the secure flag and its key round-trips', async () => {
    const l = await loop();
    const key = CryptKey.fromHex(randomBytes(32).toString('hex'));
    const given: IntegrityTarget = { start: 0n, length: 16384n, type: 'integrity', device: l.path, offset: 0n, tagSize: 32, mode: 'J', options: [{ name: 'internal_hash', value: 'hmac(sha256)', key }] };
    const name = testName('integrity-hmac');
    await dm.create(name);
    await loadTable(name, [given]);
    await dm.resume(name);
    const { parsed } = await roundTrip(name, { showKeys: true });
    expectLoaded(parsed[0] as IntegrityTarget, given);
    const opt = (parsed[0] as IntegrityTarget).options.find((o) => o.name === 'internal_hash');
    expect(opt?.key?.equals(key)).toBe(true);
  });
});
