// COW stores: a block device, or a sparse file devmapper creates, attaches to a loop device and
// deletes when the snapshot ends. devmapper attaches its own files with LO_FLAGS_AUTOCLEAR: the
// kernel then detaches the loop device by itself once no table holds it, and the flag (kernel
// state) marks the store as devmapper's to delete.
import fs from 'node:fs';
import path from 'node:path';
import * as loop from '../loop';
import { parseSize } from '../units';
import type { DevNum } from '../table';
import { devKey, pathOf } from './kernel';
import { checkStoreDevice, checkStoreFile } from './store-check';
import type { Tx } from './transaction';

/** A block device path, or a file to create sparse at `size` (bytes, or a size like '64M'). */
export type CowSpec = string | { file: string; size: bigint | number | string };

export type CowPlan = { kind: 'device'; path: string } | { kind: 'file'; file: string; size: bigint };

/**
 * The COW store an operation uses: its block device (a loop device for a file), dev_t, backing file, and whether devmapper owns the file.
 */
export interface CowInfo {
  /** The block device: /dev/loopN for a file. */
  device: string;
  /** "major:minor" */
  dev: string;
  /** The backing file, for a loop device. */
  file?: string;
  /** devmapper created the file and deletes it when the snapshot ends. */
  owned: boolean;
}

export interface PreparedCow extends CowInfo {
  num: DevNum;
  /** Lets go of the descriptor that keeps an autoclear loop device bound until a table holds it. */
  release(): Promise<void>;
}

/** Checks a COW spec (TypeError / RangeError) without touching anything. */
export function checkCowSpec(spec: unknown): CowPlan {
  if (typeof spec === 'string') {
    if (spec === '') throw new RangeError('cow must not be empty');
    return { kind: 'device', path: spec };
  }
  if (typeof spec !== 'object' || spec === null) throw new TypeError('cow is a block device path or { file, size }');
  const { file, size } = spec as { file?: unknown; size?: unknown };
  if (typeof file !== 'string' || file === '') throw new TypeError('cow.file must be a non-empty string');
  if (typeof size !== 'bigint' && typeof size !== 'number' && typeof size !== 'string') throw new TypeError('cow.size must be a bigint, number or size string');
  const bytes = parseSize(size);
  if (bytes <= 0n || bytes % 512n !== 0n) throw new RangeError(`cow.size must be a positive multiple of 512 bytes, got ${bytes}`);
  return { kind: 'file', file: path.resolve(file), size: bytes };
}

const HEADER_BYTES = 4096;

/** The smallest COW device taken: its header chunk, one metadata chunk and two data chunks. */
export const minCowBytes = (chunkSectors: number): bigint => 4n * BigInt(chunkSectors) * 512n;

/** Creates (file) or checks and wipes the header of (device) the COW store for the dm device
 *  `serves`, as steps of `tx`. The check (store-check.ts) runs before anything is written. */
export async function prepareCow(tx: Tx, plan: CowPlan, use: { serves: string; chunkSectors: number }): Promise<PreparedCow> {
  const check = { serves: use.serves, role: 'COW' };
  if (plan.kind === 'device') {
    const { path: node, num } = await tx.step('check cow', () => checkStoreDevice(plan.path, { ...check, minBytes: minCowBytes(use.chunkSectors) }));
    // A persistent store starts fresh only when its header is zero (as lvcreate does). O_EXCL: if
    // anything claimed the device since the check, the wipe fails instead of writing under it.
    await tx.step('wipe cow header', async () => {
      const fd = await fs.promises.open(node, fs.constants.O_RDWR | fs.constants.O_EXCL);
      try {
        await fd.write(Buffer.alloc(HEADER_BYTES), 0, HEADER_BYTES, 0);
        await fd.sync();
      } finally {
        await fd.close();
      }
    });
    return { ...(await cowInfo(num)), num, owned: false, release: async () => undefined };
  }
  await tx.step('check cow', () => checkStoreFile(plan.file, check));
  await tx.createFile('cow file', plan.file, async () => {
    const fh = await fs.promises.open(plan.file, 'wx', 0o600);
    try {
      await fh.truncate(Number(plan.size));
    } finally {
      await fh.close();
    }
  });
  const dev = await tx.step(
    'attach cow',
    () => loop.attach(plan.file, { autoclear: true }),
    async (d) => {
      await d.release?.();
      await loop.detach(d.path).catch(() => undefined);
    },
  );
  const num = { major: dev.major, minor: dev.minor };
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await dev.release?.();
  };
  return { device: dev.path, dev: devKey(num), file: plan.file, owned: true, num, release };
}

/** What the kernel says about the COW device `num`. */
export async function cowInfo(num: DevNum): Promise<CowInfo> {
  const device = pathOf(num);
  const base = { device, dev: devKey(num), owned: false };
  if (!fs.existsSync(`/sys/dev/block/${devKey(num)}/loop`)) return base;
  try {
    const i = await loop.info(device);
    return { ...base, file: i.file, owned: i.autoclear };
  } catch {
    return base;
  }
}

/** After the snapshot ended (no table holds the device): detach and delete a store devmapper made. */
export async function dropCow(c: CowInfo): Promise<void> {
  if (!c.owned) return;
  if (c.file) {
    // Detach only if it is still bound to our file (autoclear has usually done it already).
    const still = await loop.info(c.device).catch(() => undefined);
    if (still && still.file === c.file) await loop.detach(c.device).catch(() => undefined);
    await fs.promises.rm(c.file, { force: true });
  }
}
