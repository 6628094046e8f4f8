// loadTable checks a typed table against the running kernel (device sizes from sysfs, target
// versions from LIST_VERSIONS) and refuses a bad one with a TableError naming the line and the
// rule, before any TABLE_LOAD: the device is left exactly as it was. A crypt key never shows up
// in any error, whether validation or the kernel refuses the table.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import util from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import * as dm from '../../src/dm';
import { DmCmd, native } from '../../src/native';
import { CryptKey, isTargetType, TableError, type Table, type TableRule } from '../../src/table';
import { kernelTableProblems, kernelVersions, loadTable, readStatus, readTable } from '../../src/table/kernel';
import { linuxAtLeast } from '../../src/table/validate';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { devNum, kernelTableText, makeDevice, MiB } from '../helpers/table';

const { loop } = useTestDevices({
  beforeCleanup: () => {
    vi.restoreAllMocks();
  },
});

/** Every dm command sent from here on. */
function watchIoctls(): DmCmd[] {
  const sent: DmCmd[] = [];
  const real = native.dmIoctlAsync.bind(native);
  vi.spyOn(native, 'dmIoctlAsync').mockImplementation((cmd, req) => {
    sent.push(cmd);
    return real(cmd, req);
  });
  return sent;
}

async function refusal(p: Promise<unknown>): Promise<TableError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TableError);
    return e as TableError;
  }
  throw new Error('expected a TableError, but the table was loaded');
}

describe('loadTable refuses bad tables before anything reaches the kernel', () => {
  it('gap, missing device, too-small device, bad chunk size, COW == origin, unknown target, newer target version, verity read-write: each named by line and rule, and the device is unchanged', async () => {
    const a = await loop();
    const cow = await loop(4 * MiB);
    const name = await makeDevice('guarded', [{ start: 0n, length: 2048n, type: 'linear', device: a.path, offset: 0n }]);
    const before = await dm.info(name);
    const liveText = await kernelTableText(name);
    const versions = await kernelVersions(['snapshot', 'linear']);
    const snapV = versions.find((v) => v.name === 'snapshot')!.version;
    // The injected list: the kernel's own, with a snapshot target older than its discard features.
    const oldSnapshot = versions.map((v) => (v.name === 'snapshot' ? { name: v.name, version: [1, 15, 0] as [number, number, number] } : v));

    const cases: { why: string; table: Table; line: number; rule: TableRule; says: RegExp; versions?: typeof versions; readOnly?: boolean }[] = [
      {
        why: 'a gap between targets',
        table: [
          { start: 0n, length: 2048n, type: 'linear', device: a.path, offset: 0n },
          { start: 4096n, length: 2048n, type: 'linear', device: a.path, offset: 4096n },
        ],
        line: 2, rule: 'gap', says: /sectors 2048\.\.4095 unmapped/,
      },
      { why: 'a device path that does not exist', table: [{ start: 0n, length: 2048n, type: 'linear', device: '/dev/no-such-disk', offset: 0n }], line: 1, rule: 'device-missing', says: /\/dev\/no-such-disk does not exist/ },
      { why: 'a device number nothing has', table: [{ start: 0n, length: 2048n, type: 'linear', device: { major: 4095, minor: 7 }, offset: 0n }], line: 1, rule: 'device-missing', says: /4095:7 does not exist/ },
      {
        why: 'a device too small for the target',
        table: [
          { start: 0n, length: 2048n, type: 'zero' },
          { start: 2048n, length: 32768n, type: 'linear', device: a.path, offset: 8n },
        ],
        line: 2, rule: 'device-too-small', says: /has 32768 sectors; this target needs 32776/,
      },
      { why: 'a snapshot chunk size that is not a power of two', table: [{ start: 0n, length: 2048n, type: 'snapshot', origin: a.path, cow: cow.path, store: 'P', chunkSize: 12n }], line: 1, rule: 'chunk-size', says: /chunk size 12/ },
      {
        why: 'a COW device that is the origin (given once as a path, once as major:minor)',
        table: [{ start: 0n, length: 2048n, type: 'snapshot', origin: a.path, cow: devNum(a), store: 'P', chunkSize: 8n }],
        line: 1, rule: 'cow-is-origin', says: /COW device is the origin/,
      },
      { why: 'a target type the kernel does not have', table: [{ start: 0n, length: 2048n, type: 'no-such-target', params: '' }], line: 1, rule: 'unknown-target', says: /no target type "no-such-target"/ },
      {
        why: 'discard_zeroes_cow on a snapshot target older than 1.16 (injected version list)',
        table: [
          { start: 0n, length: 1024n, type: 'zero' },
          { start: 1024n, length: 2048n, type: 'snapshot', origin: a.path, cow: cow.path, store: 'P', chunkSize: 8n, discardZeroesCow: true },
        ],
        versions: oldSnapshot, line: 2, rule: 'target-version', says: /discard_zeroes_cow needs snapshot target 1\.16\.0; the kernel has 1\.15\.0/,
      },
      {
        why: 'a verity table loaded read-write',
        table: [{ start: 0n, length: 2048n, type: 'verity', version: 1, dataDevice: a.path, hashDevice: cow.path, dataBlockSize: 4096, hashBlockSize: 4096, dataBlocks: 256n, hashStart: 0n, algorithm: 'sha256', rootDigest: '00'.repeat(32), salt: '', options: [] }],
        line: 1, rule: 'read-only', says: /readOnly: true/,
      },
    ];

    const sent = watchIoctls();
    for (const c of cases) {
      const err = await refusal(loadTable(name, c.table, { versions: c.versions }));
      expect({ why: c.why, line: err.line, rule: err.rule }).toEqual({ why: c.why, line: c.line, rule: c.rule });
      expect(err.message).toMatch(new RegExp(`^line ${c.line}: ${c.table[c.line - 1].type}: `));
      expect(err.message).toMatch(c.says);
    }
    // Validation asked the kernel questions (LIST_VERSIONS, GET_TARGET_VERSION) but never loaded anything.
    expect(sent.filter((c) => c !== DmCmd.LIST_VERSIONS && c !== DmCmd.GET_TARGET_VERSION)).toEqual([]);
    const after = await dm.info(name);
    expect(after).toEqual(before);
    expect(after.flags.inactivePresent).toBe(false);
    expect(await kernelTableText(name)).toBe(liveText);

    // The same snapshot table with the kernel's real version list is fine to load.
    expect(versionAtLeast(snapV, [1, 16, 0])).toBe(true);
    const fine = await kernelTableProblems([{ start: 0n, length: 2048n, type: 'snapshot', origin: a.path, cow: cow.path, store: 'P', chunkSize: 8n, discardZeroesCow: true }]);
    expect(fine).toEqual([]);
  });

  it('kernelTableProblems lists every problem, in line order', async () => {
    const a = await loop();
    const problems = await kernelTableProblems([
      { start: 0n, length: 2048n, type: 'linear', device: '/dev/no-such-disk', offset: 0n },
      { start: 4096n, length: 40000n, type: 'linear', device: a.path, offset: 0n },
    ]);
    expect(problems.map((p) => [p.line, p.rule])).toEqual([[1, 'device-missing'], [2, 'gap'], [2, 'device-too-small']]);
  });

  it('a valid table loads, a key-holding table is sent with the secure-data flag, and readTable({ inactive }) reads it back before resume', async () => {
    const a = await loop();
    const name = testName('secure');
    await dm.create(name);
    const reqs: { cmd: DmCmd; secure?: boolean }[] = [];
    const real = native.dmIoctlAsync.bind(native);
    vi.spyOn(native, 'dmIoctlAsync').mockImplementation((cmd, req) => {
      reqs.push({ cmd, secure: req.secure });
      return real(cmd, req);
    });
    await loadTable(name, [{ start: 0n, length: 2048n, type: 'linear', device: a.path, offset: 0n }]);
    const key = CryptKey.fromBuffer(randomBytes(64));
    await loadTable(name, [{ start: 0n, length: 2048n, type: 'crypt', cipher: 'aes-xts-plain64', key, ivOffset: 0n, device: a.path, offset: 0n }]);
    expect(reqs.filter((r) => r.cmd === DmCmd.TABLE_LOAD).map((r) => r.secure)).toEqual([false, true]);
    expect((await dm.info(name)).flags.inactivePresent).toBe(true);
    // The loaded table waits in the inactive slot: readTable({ inactive }) shows it, typed, key and all.
    const [inactive] = await readTable(name, { inactive: true });
    if (!isTargetType(inactive, 'crypt')) throw new Error(`expected a typed crypt target, got ${inactive.type}`);
    expect(inactive.key.equals(key)).toBe(true);
    expect(inactive.device).toBe(devNum(a));
    expect(await readTable(name)).toEqual([]);
    await dm.resume(name);
    expect((await readTable(name))[0]).toEqual(inactive);
    expect((await readStatus(name)).map((s) => [s.type, s.status])).toEqual([['crypt', {}]]);
  });
});

describe('a crypt key never appears in an error', () => {
  const hex = randomBytes(64).toString('hex');
  const leaks = (e: unknown): string[] => {
    const texts = [String(e), (e as Error).message, (e as Error).stack ?? '', util.inspect(e), JSON.stringify(e)];
    return texts.filter((t) => t.toLowerCase().includes(hex) || t.includes(hex.toUpperCase()) || t.includes(hex.slice(0, 16)));
  };

  it('not when validation refuses the table (missing device, too small, bad sector size, unparsable params), nor when the kernel does (unknown cipher)', async () => {
    const a = await loop();
    const name = testName('crypt-errors');
    await dm.create(name);
    const key = CryptKey.fromHex(hex);
    const crypt = { start: 0n, type: 'crypt' as const, cipher: 'aes-xts-plain64', key, ivOffset: 0n, offset: 0n };
    const refused: [Table, TableRule][] = [
      [[{ ...crypt, length: 2048n, device: '/dev/no-such-disk' }], 'device-missing'],
      [[{ ...crypt, length: 40000n, device: a.path }], 'device-too-small'],
      [[{ ...crypt, length: 2048n, device: a.path, sectorSize: 1000 }], 'field'],
    ];
    for (const [table, rule] of refused) {
      const err = await refusal(loadTable(name, table));
      expect(err.rule).toBe(rule);
      expect(leaks(err)).toEqual([]);
    }
    // Generic params of a known type that do not parse are left to the kernel (they may use newer
    // features); the kernel refuses these, and its error does not carry the params either.
    for (const params of [`aes-xts-plain64 ${hex} 0 ${a.path} not-a-number`, `aes-xts-plain64 ${hex} zero ${a.path} 0`]) {
      let err: unknown;
      await loadTable(name, [{ start: 0n, length: 2048n, type: 'crypt', params }]).catch((e) => (err = e));
      expect(err).toMatchObject({ name: 'DmError', code: 'EINVAL', command: 'TABLE_LOAD' });
      expect(leaks(err)).toEqual([]);
    }
    // Valid to us, refused by the kernel: a cipher it does not have.
    let kernelErr: unknown;
    await loadTable(name, [{ ...crypt, cipher: 'nosuchcipher-cbc-plain', length: 2048n, device: a.path }]).catch((e) => (kernelErr = e));
    expect(kernelErr).toMatchObject({ name: 'DmError', command: 'TABLE_LOAD' });
    expect(leaks(kernelErr)).toEqual([]);
    expect((await dm.info(name)).flags.inactivePresent).toBe(false);
  });
});

describe('a feature the running kernel lacks is refused by version, before TABLE_LOAD', () => {
  // Debian's 6.1 has flakey 1.5.0 without error_reads (Linux 6.5 added it and kept 1.5.0) and crypt
  // 1.24.0 without high_priority (1.25.0); 6.12 and 7.x have both. Each kernel proves its side.
  it('flakey error_reads (by Linux release) and crypt high_priority (by target version): refused naming what is needed and what is there, or loaded', async () => {
    const a = await loop();
    const crypt = (await kernelVersions(['crypt'])).find((v) => v.name === 'crypt')!.version;
    const cases: { has: boolean; table: Table; says: RegExp }[] = [
      {
        has: linuxAtLeast(os.release(), [6, 5]),
        table: [{ start: 0n, length: 2048n, type: 'flakey', device: a.path, offset: 0n, upInterval: 5, downInterval: 1, errorReads: true }],
        says: new RegExp(`^line 1: flakey: error_reads needs Linux 6\\.5 \\(flakey target 1\\.5\\.0 gained it without a version bump\\); the kernel is ${os.release().replace(/[.+]/g, '\\$&')}$`),
      },
      {
        has: versionAtLeast(crypt, [1, 25, 0]),
        table: [{ start: 0n, length: 2048n, type: 'crypt', cipher: 'aes-xts-plain64', key: CryptKey.fromBuffer(randomBytes(64)), ivOffset: 0n, device: a.path, offset: 0n, highPriority: true }],
        says: new RegExp(`^line 1: crypt: high_priority needs crypt target 1\\.25\\.0; the kernel has ${crypt.join('\\.')}$`),
      },
    ];
    for (const [i, c] of cases.entries()) {
      const name = testName(`feature-${i}`);
      await dm.create(name);
      const sent = watchIoctls();
      if (c.has) {
        await loadTable(name, c.table);
        expect(sent).toContain(DmCmd.TABLE_LOAD);
        expect((await dm.info(name)).flags.inactivePresent).toBe(true);
      } else {
        const err = await refusal(loadTable(name, c.table));
        expect(err.rule).toBe('target-version');
        expect(err.message).toMatch(c.says);
        expect(sent.filter((x) => x !== DmCmd.LIST_VERSIONS && x !== DmCmd.GET_TARGET_VERSION)).toEqual([]);
        expect((await dm.info(name)).flags.inactivePresent).toBe(false);
      }
      vi.restoreAllMocks();
    }
  });
});

function versionAtLeast(have: readonly number[], want: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}
