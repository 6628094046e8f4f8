// udev flags in event_nr (the pure part: layout, kinds, validation). What udev makes of them is
// proved in test/integration/udev.test.ts against systemd-udevd and the dm rules.
import { beforeAll, describe, expect, it } from 'vitest';
import { addressOf } from '../../src/dm/device';
import { UdevFlag, checkUdevChoice, udevCookie, udevKindOf, udevMakesNode, udevRunning } from '../../src/dm/udev';
import { DmFlag } from '../../src/dm/flags';
import { DmCmd, native } from '../../src/native';
import '../../src/ops/naming'; // registers the operations' classifier

const F = UdevFlag;
// Where no udev runs, libdevmapper (and so devmapper) also turns off the dm and subsystem rules.
let NO_UDEV = 0;
beforeAll(async () => {
  NO_UDEV = (await udevRunning()) ? 0 : F.DISABLE_DM_RULES | F.DISABLE_SUBSYSTEM_RULES;
});

describe('udev cookie', () => {
  it('has the flags in the upper 16 bits and semaphore id 0 (flags only, as dmsetup udevcomplete expects)', async () => {
    const c = await udevCookie(addressOf({ uuid: 'anything' }));
    expect(c & 0xffff).toBe(0);
    expect(c >>> 16).toBe(F.PRIMARY_SOURCE | NO_UDEV);
    const raw = await udevCookie(addressOf('x'), 0x8040);
    expect(raw >>> 16).toBe(0x8040 | NO_UDEV);
    expect(raw).toBe(((0x8040 | NO_UDEV) * 0x10000)); // an unsigned 32-bit value, not a negative int
  });

  it('classifies by uuid prefix: bases hidden, snapshots low priority, the rest the user\'s', async () => {
    expect(udevKindOf('DEVMAPPER-BASE-vol')).toBe('hidden');
    expect(udevKindOf('DEVMAPPER-BASE-1f2e-vol')).toBe('hidden'); // a nonce after the prefix
    expect(udevKindOf('DEVMAPPER-SNAP-s')).toBe('snapshot');
    expect(udevKindOf('LVM-abc')).toBe('user');
    expect(udevKindOf('')).toBe('user');
    expect((await udevCookie(addressOf({ uuid: 'DEVMAPPER-BASE-v' }))) >>> 16).toBe(
      F.PRIMARY_SOURCE | F.DISABLE_SUBSYSTEM_RULES | F.DISABLE_DISK_RULES | F.DISABLE_OTHER_RULES | NO_UDEV,
    );
    expect((await udevCookie(addressOf({ uuid: 'DEVMAPPER-SNAP-s' }))) >>> 16).toBe(F.PRIMARY_SOURCE | F.LOW_PRIORITY | NO_UDEV);
  });

  it('goes into event_nr of the encoded request', async () => {
    const c = await udevCookie(addressOf('x'), 'hidden');
    const b = native.dmEncode(DmCmd.DEV_SUSPEND, { name: 'x', flags: 0, eventNr: c }, 16384);
    expect(b.readUInt32LE(32)).toBe(c);
  });

  it('udev makes the node only when the kernel sent a uevent and the dm rules are on', () => {
    const on = (F.PRIMARY_SOURCE << 16) >>> 0;
    expect(udevMakesNode(on, DmFlag.UEVENT_GENERATED)).toBe(true);
    expect(udevMakesNode(on, 0)).toBe(false);
    expect(udevMakesNode(((F.PRIMARY_SOURCE | F.DISABLE_DM_RULES) << 16) >>> 0, DmFlag.UEVENT_GENERATED)).toBe(false);
  });

  it('refuses bad choices with typed errors', () => {
    expect(checkUdevChoice(undefined)).toBeUndefined();
    expect(checkUdevChoice('snapshot')).toBe('snapshot');
    expect(() => checkUdevChoice('private')).toThrow(TypeError);
    expect(() => checkUdevChoice(0x10000)).toThrow(RangeError);
    expect(() => checkUdevChoice(1.5)).toThrow(RangeError);
  });
});
