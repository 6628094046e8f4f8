// A snapshot's status followed through its life on the real kernel: as writes go through it,
// its small COW store fills (allocated grows, percentFull rises); a full P store ends Invalid
// (with a device event), a full PO store says Overflow.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import { isInvalid, percentFull, type SnapshotStatus, type SnapshotStore } from '../../src/table';
import { readStatus, statusAs } from '../../src/table/kernel';
import { useTestDevices } from '../helpers/devices';
import { dmsetup, kernelStatusText, makeDevice, MiB, writeAt } from '../helpers/table';

const { loop } = useTestDevices();

const COW_BYTES = 1 * MiB;
const STEP = 64 * 1024;

/** An origin and one snapshot of it with a 1 MiB COW store of 4 KiB chunks. */
async function snapshotOf(store: SnapshotStore, tag: string): Promise<{ snap: string; origin: string }> {
  const base = await loop(16 * MiB);
  const cow = await loop(COW_BYTES);
  const length = BigInt((16 * MiB) / 512);
  const origin = await makeDevice(`${tag}-origin`, [{ start: 0n, length, type: 'snapshot-origin', origin: base.path }]);
  await dm.suspend(origin);
  try {
    const snap = await makeDevice(tag, [{ start: 0n, length, type: 'snapshot', origin: base.path, cow: cow.path, store, chunkSize: 8n }]);
    return { snap, origin };
  } finally {
    await dm.resume(origin);
  }
}

async function snapStatus(name: string): Promise<SnapshotStatus> {
  return statusAs((await readStatus(name))[0], 'snapshot');
}

/** Writes fresh 64 KiB blocks through the snapshot until a write fails or the status leaves 'active'. */
async function fillUp(name: string): Promise<{ seen: SnapshotStatus[]; failedWrite: boolean }> {
  const seen = [await snapStatus(name)];
  let failedWrite = false;
  for (let i = 0; i < 64 && seen[seen.length - 1].state === 'active'; i++) {
    try {
      writeAt(dm.nodePath(name), i * STEP, randomBytes(STEP));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('EIO');
      failedWrite = true;
    }
    seen.push(await snapStatus(name));
  }
  return { seen, failedWrite };
}

function expectFilling(active: SnapshotStatus[]): void {
  expect(active.length).toBeGreaterThanOrEqual(8);
  for (let i = 1; i < active.length; i++) {
    const [a, b] = [active[i - 1], active[i]] as Extract<SnapshotStatus, { state: 'active' }>[];
    expect(b.allocated).toBeGreaterThan(a.allocated);
    expect(b.total).toBe(BigInt(COW_BYTES / 512));
    expect(percentFull(b)!).toBeGreaterThan(percentFull(a)!);
  }
  expect(percentFull(active[active.length - 1])!).toBeGreaterThan(80);
}

describe('snapshot status through its life', () => {
  it('P store: allocated and percentFull grow with each write until the full store makes the snapshot Invalid, with an event', async () => {
    const { snap } = await snapshotOf('P', 'life-p');
    const eventBefore = (await dm.info(snap)).eventNr;
    const { seen, failedWrite } = await fillUp(snap);
    const active = seen.filter((s) => s.state === 'active');
    expectFilling(active);
    const last = seen[seen.length - 1];
    expect(last).toEqual({ state: 'invalid' });
    expect(isInvalid(last)).toBe(true);
    expect(percentFull(last)).toBeUndefined();
    expect(failedWrite).toBe(true);
    expect((await dm.info(snap)).eventNr).toBeGreaterThan(eventBefore);
    const text = await kernelStatusText(snap);
    expect(text).toBe(`0 32768 snapshot Invalid\n`);
    expect(dmsetup('status', snap)).toBe(text);
    // An invalid snapshot fails every write.
    expect(() => writeAt(dm.nodePath(snap), 0, randomBytes(4096))).toThrow(/EIO/);
  });

  it('PO store: the same filling ends in Overflow', async () => {
    const { snap } = await snapshotOf('PO', 'life-po');
    const { seen } = await fillUp(snap);
    expectFilling(seen.filter((s) => s.state === 'active'));
    const last = seen[seen.length - 1];
    expect(last).toEqual({ state: 'overflow' });
    expect(isInvalid(last)).toBe(false);
    const text = await kernelStatusText(snap);
    expect(text).toBe(`0 32768 snapshot Overflow\n`);
    expect(dmsetup('status', snap)).toBe(text);
  });
});
