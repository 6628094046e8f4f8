import { describe, expect, it } from 'vitest';
import { MAX_OPS_NAME_BYTES, baseOwner, baseUuid, checkOpsName, isSnapUuid, newNonce, snapUuid, uuidNonce } from '../../src/ops/naming';

describe('ops naming', () => {
  it('every operation gets a nonce of its own, carried in the uuids it makes', () => {
    const a = newNonce();
    const b = newNonce();
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    expect(baseUuid('vol', a)).toBe(`DEVMAPPER-BASE-${a}-vol`);
    expect(snapUuid('s', a)).toBe(`DEVMAPPER-SNAP-${a}-s`);
    expect(uuidNonce(baseUuid('vol', a))).toBe(a);
    expect(uuidNonce(snapUuid('s-1', b))).toBe(b);
  });

  it('the owner of a base is read from its uuid, with or without a nonce', () => {
    expect(baseOwner(baseUuid('vol-2', newNonce()))).toBe('vol-2');
    expect(baseOwner('DEVMAPPER-BASE-vol')).toBe('vol');
    expect(uuidNonce('DEVMAPPER-BASE-vol')).toBeUndefined();
    expect(baseOwner('DEVMAPPER-SNAP-0123456789ab-vol')).toBeUndefined();
    expect(baseOwner(undefined)).toBeUndefined();
    expect(isSnapUuid(snapUuid('s', newNonce()))).toBe(true);
    expect(uuidNonce('LVM-abc')).toBeUndefined();
  });

  it('the longest name accepted still fits a 128-byte uuid with its nonce', () => {
    const name = 'v'.repeat(MAX_OPS_NAME_BYTES);
    expect(checkOpsName(name)).toBe(name);
    expect(Buffer.byteLength(baseUuid(name, newNonce()))).toBe(128);
    expect(() => checkOpsName(`${name}v`)).toThrow(RangeError);
  });
});
