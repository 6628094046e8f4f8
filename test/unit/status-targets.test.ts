import { describe, expect, it } from 'vitest';
import { parseStatus, parseStatusTargets } from '../../src/table';

describe('status of targets that report nothing', () => {
  it.each(['linear', 'zero', 'error', 'snapshot-origin', 'crypt', 'flakey'])('%s: empty status (their STATUSTYPE_INFO prints nothing)', (type) => {
    expect(parseStatus(type, '')).toEqual({});
    expect(() => parseStatus(type, 'x')).toThrow(expect.objectContaining({ rule: 'syntax', targetType: type }));
  });
});

describe('per-device health', () => {
  it('striped: "<#stripes> <dev>... 1 <health>" (dm-stripe.c stripe_status)', () => {
    expect(parseStatus('striped', '2 8:16 8:32 1 AD')).toEqual({ devices: ['8:16', '8:32'], health: ['A', 'D'] });
    expect(() => parseStatus('striped', '2 8:16 8:32 1 A')).toThrow(/health/);
  });

  it('mirror: core and disk logs (dm-raid1.c mirror_status, dm-log.c core_status/disk_status)', () => {
    expect(parseStatus('mirror', '2 8:16 8:32 2048/2048 1 AA 1 core')).toEqual({
      devices: ['8:16', '8:32'], inSyncRegions: 2048n, totalRegions: 2048n, health: ['A', 'A'], log: ['core'],
    });
    expect(parseStatus('mirror', '3 8:16 8:32 8:64 100/2048 1 ADS 3 disk 8:48 A')).toMatchObject({ health: ['A', 'D', 'S'], log: ['disk', '8:48', 'A'], inSyncRegions: 100n });
    expect(() => parseStatus('mirror', '2 8:16 8:32 2048/2048 1 AA 3 core')).toThrow(/mirror: log status: count 3/);
  });
});

describe('thin provisioning (thin-provisioning.rst "Status")', () => {
  it('thin-pool with and without the metadata low watermark of newer kernels', () => {
    const s = parseStatus('thin-pool', '0 141/4161600 0/3276800 - rw discard_passdown queue_if_no_space - 1024 ');
    expect(s).toEqual({
      state: 'ok', transactionId: 0n, usedMetadataBlocks: 141n, totalMetadataBlocks: 4161600n, usedDataBlocks: 0n, totalDataBlocks: 3276800n,
      mode: 'rw', discards: 'discard_passdown', noSpace: 'queue_if_no_space', needsCheck: false, metadataLowWatermark: 1024n,
    });
    expect(parseStatus('thin-pool', '5 200/4096 65535/65536 17 out_of_data_space ignore_discard error_if_no_space needs_check')).toMatchObject({
      heldMetadataRoot: 17n, mode: 'out_of_data_space', discards: 'ignore_discard', noSpace: 'error_if_no_space', needsCheck: true,
    });
    // Kernels before needs_check (dm-thin.c of 3.1x) print seven words.
    expect(parseStatus('thin-pool', '1 10/20 30/40 - ro no_discard_passdown queue_if_no_space')).toMatchObject({ mode: 'ro', needsCheck: false });
    expect(parseStatus('thin-pool', 'Fail')).toEqual({ state: 'fail' });
    expect(parseStatus('thin-pool', 'Error')).toEqual({ state: 'error' });
    expect(() => parseStatus('thin-pool', '0 141/4161600 0/3276800 - rx discard_passdown queue_if_no_space -')).toThrow(/mode/);
  });

  it('thin: mapped sectors and highest mapped sector, "-" when nothing mapped or inactive', () => {
    expect(parseStatus('thin', '2097152 2097151')).toEqual({ state: 'ok', mappedSectors: 2097152n, highestMappedSector: 2097151n });
    expect(parseStatus('thin', '0 -')).toEqual({ state: 'ok', mappedSectors: 0n });
    expect(parseStatus('thin', '-')).toEqual({ state: 'inactive' });
    expect(parseStatus('thin', 'Fail')).toEqual({ state: 'fail' });
  });
});

describe('cache (cache.rst "Status")', () => {
  it('parses every field, features, core args and policy args', () => {
    const s = parseStatus('cache', '8 1105/65536 512 144554/179602 336023 1797 0 1 28139 0 0 1 writeback 2 migration_threshold 2048 smq 0 rw -');
    expect(s).toEqual({
      state: 'ok', metadataBlockSize: 8n, usedMetadataBlocks: 1105n, totalMetadataBlocks: 65536n, cacheBlockSize: 512n,
      usedCacheBlocks: 144554n, totalCacheBlocks: 179602n, readHits: 336023n, readMisses: 1797n, writeHits: 0n, writeMisses: 1n,
      demotions: 28139n, promotions: 0n, dirty: 0n, features: ['writeback'], coreArgs: ['migration_threshold', '2048'],
      policy: 'smq', policyArgs: [], metadataMode: 'rw', needsCheck: false,
    });
    expect(parseStatus('cache', 'Fail')).toEqual({ state: 'fail' });
    expect(() => parseStatus('cache', '8 1105/65536 512 144554/179602 336023 1797 0 1 28139 0 0 3 writeback 2 migration_threshold 2048 smq 0 rw -')).toThrow(/cache: core args: count 2048/);
  });
});

describe('other typed status lines', () => {
  it('verity: V/C, and the FEC correction count of newer kernels (verity.rst "Status")', () => {
    expect(parseStatus('verity', 'V')).toEqual({ valid: true });
    expect(parseStatus('verity', 'C')).toEqual({ valid: false });
    expect(parseStatus('verity', 'V -')).toEqual({ valid: true });
    expect(parseStatus('verity', 'C 12')).toEqual({ valid: false, fecCorrected: 12n });
    expect(() => parseStatus('verity', 'X')).toThrow(/verity: state/);
  });

  it('integrity: mismatches, provided sectors, recalculation position (dm-integrity.rst "Status")', () => {
    expect(parseStatus('integrity', '0 2097152 -')).toEqual({ mismatches: 0n, providedDataSectors: 2097152n });
    expect(parseStatus('integrity', '3 2097152 1024')).toEqual({ mismatches: 3n, providedDataSectors: 2097152n, recalculateSector: 1024n });
  });

  it('delay: read and write ops, flush ops with a flush path (dm-delay.c delay_status)', () => {
    expect(parseStatus('delay', '0 0')).toEqual({ readOps: 0, writeOps: 0 });
    expect(parseStatus('delay', '5 7 2')).toEqual({ readOps: 5, writeOps: 7, flushOps: 2 });
  });

  it('log-writes: logged entries and highest allocated sector (log-writes.rst "Status")', () => {
    expect(parseStatus('log-writes', '125 8192')).toEqual({ loggedEntries: 125n, highestAllocatedSector: 8192n });
  });

  it('untyped targets give the raw line', () => {
    expect(parseStatus('dust', '8:16 0 fail_read_on_bad_block')).toEqual({ raw: '8:16 0 fail_read_on_bad_block' });
  });

  it('parseStatusTargets reads a whole TABLE_STATUS reply and names the failing line', () => {
    const raw = [
      { start: 0n, length: 8n, type: 'snapshot', params: '16/64 16' },
      { start: 8n, length: 8n, type: 'zero', params: '' },
    ];
    expect(parseStatusTargets(raw)).toEqual([
      { start: 0n, length: 8n, type: 'snapshot', status: { state: 'active', allocated: 16n, total: 64n, metadata: 16n } },
      { start: 8n, length: 8n, type: 'zero', status: {} },
    ]);
    expect(() => parseStatusTargets([raw[1], { ...raw[0], params: 'bogus' }])).toThrow(expect.objectContaining({ line: 2, targetType: 'snapshot' }));
  });
});
