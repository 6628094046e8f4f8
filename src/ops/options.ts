// Shared option checks for the snapshot operations (TypeError / RangeError before anything changes).
import { isPowerOfTwo } from '../table/args';

/** Snapshot persistence: `P` persistent, `PO` persistent with overflow support. */
export type Persistence = 'P' | 'PO';

/** COW store options shared by divert() and createSnapshot(): chunk size and persistence. */
export interface SnapshotStoreOptions {
  /** Chunk size in 512-byte sectors, a power of two (default 8: 4 KiB). */
  chunkSectors?: number;
  /** 'P' persistent (default), 'PO' persistent with overflow reporting. */
  persistent?: Persistence;
}

export function checkStore(o: SnapshotStoreOptions): { chunk: number; store: Persistence } {
  const chunk = o.chunkSectors ?? 8;
  if (typeof chunk !== 'number') throw new TypeError('chunkSectors must be a number');
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 1 << 21 || !isPowerOfTwo(chunk)) {
    throw new RangeError(`chunkSectors must be a power of two between 1 and 2^21, got ${chunk}`);
  }
  const store = o.persistent ?? 'P';
  if (store !== 'P' && store !== 'PO') throw new RangeError(`persistent must be 'P' or 'PO', got ${JSON.stringify(store)}`);
  return { chunk, store };
}

export function checkObject(o: unknown, what = 'options'): void {
  if (typeof o !== 'object' || o === null) throw new TypeError(`${what} must be an object`);
}

export function checkSignal(s: unknown): AbortSignal | undefined {
  if (s === undefined) return undefined;
  if (!(s instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
  return s;
}
