// Bad arguments are refused in TypeScript, before any ioctl: the addon's entry points are
// spied on and must never be called.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { native } from '../../src/native';
import type { RawReply } from '../../src/native';
import * as dm from '../../src/dm';

const fakeReply: RawReply = {
  version: [4, 48, 0], flags: 0, name: 'x', uuid: '', major: 253, minor: 0,
  openCount: 0, eventNr: 0, targetCount: 0, dataSize: 16384, retries: 0,
};

let calls: ReturnType<typeof vi.fn>[] = [];

beforeEach(() => {
  calls = [
    vi.spyOn(native, 'dmIoctl').mockImplementation(() => fakeReply),
    vi.spyOn(native, 'dmIoctlAsync').mockImplementation(async () => fakeReply),
    vi.spyOn(native, 'dmWait').mockImplementation(() => ({ promise: Promise.resolve(fakeReply), cancel() {} })),
  ] as unknown as ReturnType<typeof vi.fn>[];
});
afterEach(() => vi.restoreAllMocks());

const nothingSent = (): void => calls.forEach((c) => expect(c).not.toHaveBeenCalled());

async function refuses(fn: () => unknown, type: typeof TypeError | typeof RangeError, re?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  if (re) expect((err as Error).message).toMatch(re);
  nothingSent();
}

describe('device names and uuids', () => {
  it.each([
    ['', /1\.\.127 bytes, got 0/],
    ['n'.repeat(128), /got 128/],
    ['é'.repeat(64), /got 128/], // 64 characters, 128 UTF-8 bytes
    ['a/b', /must not contain '\/'/],
    ['.', /must not be "."/],
    ['..', /must not be ".."/],
    ['control', /must not be "control"/],
    ['a\0b', /NUL/],
  ])('create(%j) is a RangeError', async (name, re) => {
    await refuses(() => dm.create(name), RangeError, re);
  });

  it('a 127-byte name, also in multi-byte characters, is accepted', async () => {
    await dm.create('n'.repeat(127), { node: false });
    await dm.create(`${'é'.repeat(63)}x`, { node: false });
    expect(native.dmIoctlAsync).toHaveBeenCalledTimes(2);
  });

  it('non-strings are TypeErrors', async () => {
    await refuses(() => dm.create(42 as never), TypeError);
    await refuses(() => dm.info({ name: null } as never), TypeError);
  });

  it('uuids are 1..128 bytes', async () => {
    await refuses(() => dm.create('x', { uuid: 'u'.repeat(129) }), RangeError, /got 129/);
    await refuses(() => dm.create('x', { uuid: '' }), RangeError);
    await refuses(() => dm.rename('x', { uuid: 'u'.repeat(129) }), RangeError);
  });

  it('a device is addressed by exactly one of name, uuid, major/minor', async () => {
    await refuses(() => dm.infoSync({ name: 'a', uuid: 'b' } as never), TypeError, /exactly one/);
    await refuses(() => dm.infoSync({} as never), TypeError, /got none/);
    await refuses(() => dm.infoSync(null as never), TypeError);
  });

  it('major and minor must fit the dm dev_t encoding (12 and 20 bits)', async () => {
    await refuses(() => dm.infoSync({ major: 4096, minor: 0 }), RangeError, /major/);
    await refuses(() => dm.infoSync({ major: 253, minor: 1 << 20 }), RangeError, /minor/);
    await refuses(() => dm.infoSync({ major: -1, minor: 0 }), RangeError);
    await refuses(() => dm.infoSync({ major: 1.5, minor: 0 }), RangeError);
    await refuses(() => dm.create('x', { minor: 1 << 20 }), RangeError);
  });
});

describe('tables', () => {
  const t = (start: bigint | number, length: bigint | number, type = 'zero', params = '') => ({ start, length, type, params });

  it.each([
    ['no targets', [], /at least one target/],
    ['a first target not at 0', [t(8, 8)], /starts at 8, expected 0/],
    ['a gap', [t(0, 8), t(16, 8)], /starts at 16, expected 8/],
    ['an overlap', [t(0, 8), t(4, 8)], /starts at 4, expected 8/],
    ['a zero-length target', [t(0, 0)], /length 0/],
    ['a negative start', [t(-1n, 8)], /0\.\.2\^64-1/],
    ['a length past 2^64', [t(0, 1n << 64n)], /0\.\.2\^64-1/],
    ['an end past 2^64', [t(0, (1n << 64n) - 1n), t((1n << 64n) - 1n, 2)], /2\^64/],
    ['an unsafe number', [t(0, 2 ** 53 + 2)], /safe integer/],
    ['a type with a space', [t(0, 8, 'li near')], /without spaces/],
    ['a 16-byte type', [t(0, 8, 'x'.repeat(16))], /1\.\.15 bytes/],
    ['an empty type', [t(0, 8, '')], /1\.\.15 bytes/],
    ['a NUL in the params', [t(0, 8, 'linear', '7:0\0 0')], /NUL/],
  ])('%s is a RangeError', async (_what, targets, re) => {
    await refuses(() => dm.loadRawTable('x', targets as never), RangeError, re);
  });

  it('wrong types are TypeErrors', async () => {
    await refuses(() => dm.loadRawTable('x', 'zero' as never), TypeError);
    await refuses(() => dm.loadRawTable('x', [null] as never), TypeError);
    await refuses(() => dm.loadRawTable('x', [{ start: '0', length: 8, type: 'zero', params: '' }] as never), TypeError);
    await refuses(() => dm.loadRawTable('x', [{ start: 0, length: 8, type: 'zero', params: 5 }] as never), TypeError);
  });

  it('numbers and bigints both reach native code as bigint sectors', async () => {
    await dm.loadRawTable('x', [t(0, 8), t(8n, 8n, 'error')]);
    const req = vi.mocked(native.dmIoctlAsync).mock.calls[0][1];
    expect(req.targets).toEqual([
      { start: 0n, length: 8n, type: 'zero', params: '' },
      { start: 8n, length: 8n, type: 'error', params: '' },
    ]);
  });
});

describe('other arguments', () => {
  it('messages, geometry, event numbers, buffer sizes, target types', async () => {
    await refuses(() => dm.targetMessage('x', 0, '   '), RangeError, /empty/);
    await refuses(() => dm.targetMessage('x', -1, '@stats_list'), RangeError);
    await refuses(() => dm.setGeometry('x', { cylinders: 1, heads: 256, sectors: 63, start: 0 }), RangeError, /heads/);
    await refuses(() => dm.setGeometry('x', { cylinders: 65536, heads: 1, sectors: 63, start: 0 }), RangeError, /cylinders/);
    await refuses(() => dm.waitEvent('x', { eventNr: -1 }), RangeError, /eventNr/);
    await refuses(() => dm.waitEvent('x', { eventNr: 2 ** 32 }), RangeError, /eventNr/);
    await refuses(() => dm.listDevices({ initialBufferSize: 0 }), RangeError, /initialBufferSize/);
    await refuses(() => dm.listDevicesSync({ maxBufferSize: 1.5 }), RangeError, /maxBufferSize/);
    await refuses(() => dm.targetVersionSync('x'.repeat(16)), RangeError, /15 bytes/);
    await refuses(() => dm.targetVersion('a/b'), RangeError);
  });
});

describe('flags word', () => {
  it('decodes each bit', () => {
    expect(dm.decodeFlags(0)).toEqual({
      readOnly: false, suspended: false, activePresent: false, inactivePresent: false, bufferFull: false,
      ueventGenerated: false, dataOut: false, deferredRemove: false, internalSuspend: false,
    });
    const f = dm.decodeFlags(dm.DmFlag.SUSPEND | dm.DmFlag.INACTIVE_PRESENT | dm.DmFlag.DEFERRED_REMOVE | dm.DmFlag.INTERNAL_SUSPEND);
    expect(f).toMatchObject({ suspended: true, inactivePresent: true, deferredRemove: true, internalSuspend: true, readOnly: false });
    expect(dm.decodeFlags(1 << 0 | 1 << 5 | 1 << 8 | 1 << 13 | 1 << 16)).toMatchObject({
      readOnly: true, activePresent: true, bufferFull: true, ueventGenerated: true, dataOut: true,
    });
  });

  it('requests carry the right flag bits', async () => {
    await dm.suspend('x', { noflush: true, skipLockfs: true });
    await dm.statusSync('x', { inactive: true, noflush: true });
    await dm.tableSync({ uuid: 'U' });
    const [[, suspendReq]] = vi.mocked(native.dmIoctlAsync).mock.calls;
    expect(suspendReq.flags).toBe(dm.DmFlag.SUSPEND | dm.DmFlag.NOFLUSH | dm.DmFlag.SKIP_LOCKFS);
    const [[, statusReq], [, tableReq]] = vi.mocked(native.dmIoctl).mock.calls;
    expect(statusReq.flags).toBe(dm.DmFlag.QUERY_INACTIVE_TABLE | dm.DmFlag.NOFLUSH);
    expect(tableReq).toMatchObject({ uuid: 'U', flags: dm.DmFlag.STATUS_TABLE });
  });
});
