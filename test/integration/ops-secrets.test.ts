// Crypt keys never leave the library: not in results (describe, replace's previous tables), not in
// errors, and every table read or load of a key-holding device asks the kernel to wipe its copies
// (DM_SECURE_DATA_FLAG), the rollback of a failed change included.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import util from 'node:util';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { OperationError, setFaultHook } from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testName } from '../helpers/dm';
import { testDir } from '../helpers/loop';
import { MiB, deviceSum, fillPattern } from '../helpers/ops';

const { loop } = useTestDevices({
  beforeCleanup: () => {
    setFaultHook();
    dm.setIoctlObserver();
  },
});

const KEY = randomBytes(64).toString('hex');

/** Every place a key could surface: the message, the inspected error with its cause, JSON. */
function shown(x: unknown): string {
  return `${(x as Error)?.message ?? ''}\n${util.inspect(x, { depth: 20 })}\n${JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`;
}

describe('crypt keys', () => {
  it('stay out of describe, replace results and operation errors; every read and load of the table is secure', async () => {
    const l = await loop(16 * MiB);
    const sectors = (16 * MiB) / 512;
    const table: dm.TargetInput[] = [{ start: 0, length: sectors, type: 'crypt', params: `aes-xts-plain64 ${KEY} 0 ${l.major}:${l.minor} 0` }];
    const v = testName('secret');
    await dm.create(v);
    await dm.loadRawTable(v, table, { secure: true });
    await dm.resume(v);
    fillPattern(dm.nodePath(v), 'plain', 4 * MiB);
    const data = deviceSum(dm.nodePath(v));
    const seen: dm.IoctlSeen[] = [];
    dm.setIoctlObserver((s) => seen.push(s));

    const r = await ops.replace(v, table);
    expect(r.previous[v]).toContain(`crypt aes-xts-plain64 ${'0'.repeat(KEY.length)} 0`);
    expect(shown(r)).not.toContain(KEY);

    await ops.divert(v, { cow: { file: path.join(testDir(), 'secret.cow'), size: '4M' } });
    const d = await ops.describe(v);
    expect(d.base!.table).toContain(`crypt aes-xts-plain64 ${'0'.repeat(KEY.length)} 0`);
    expect(shown(d)).not.toContain(KEY);
    await ops.merge(v);

    // A failure after the load: the rollback reloads the old (key-holding) table.
    setFaultHook((p) => {
      if (p === 'replace:suspend V') throw new Error('injected');
    });
    const err = await ops.replace(v, [{ ...table[0], params: table[0].params.replace(' 0 ', ' 8 ') }]).then(() => undefined, (e: unknown) => e);
    setFaultHook();
    expect(err).toBeInstanceOf(OperationError);
    expect((err as OperationError).state.asBefore).toBe(true);
    expect(shown(err)).not.toContain(KEY);

    dm.setIoctlObserver();
    const base = ops.baseName(v);
    // Loads of the crypt table (replace, base, merge's finish, rollback) and every table read.
    const tableIo = seen.filter((s) => (s.name === v || s.name === base)
      && ((s.cmd === 'TABLE_LOAD' && s.types!.includes('crypt')) || (s.cmd === 'TABLE_STATUS' && (s.flags & dm.DmFlag.STATUS_TABLE) !== 0)));
    expect(tableIo.filter((s) => s.cmd === 'TABLE_LOAD').length).toBeGreaterThanOrEqual(5);
    expect(tableIo.filter((s) => !s.secure)).toEqual([]);
    // The key itself came through every reload intact.
    expect(dm.tableSync(v, { secure: true })[0].params).toContain(KEY);
    expect(deviceSum(dm.nodePath(v))).toBe(data);
  });
});
