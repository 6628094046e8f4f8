import { callerStack, fromNative } from '../errors';
import { native } from '../native';
import { addressOf } from './device';
import type { DeviceRef } from './device';
import { DmFlag } from './flags';
import { toInfo } from './info';
import type { DeviceInfo, TargetLine } from './info';
import { infoSync } from './query';
import { checkU32 } from './validate';

/** Options of waitEvent(). */
export interface WaitOptions {
  /** Wait until the event number differs from this one (default: the current one). */
  eventNr?: number;
  /** Rejects the wait with ECANCELED. */
  signal?: AbortSignal;
  /** Return table lines instead of status lines. */
  table?: boolean;
  noflush?: boolean;
}

/** What waitEvent() returns. */
export interface WaitResult {
  info: DeviceInfo;
  /** Status (or table) lines as of the event. */
  targets: TargetLine[];
}

/** DEV_WAIT, on a thread of its own and cancellable. ENXIO if the device goes away meanwhile. */
export async function waitEvent(ref: DeviceRef, o: WaitOptions = {}): Promise<WaitResult> {
  const stack = callerStack();
  const a = addressOf(ref);
  const eventNr = o.eventNr === undefined ? infoSync(ref).eventNr : checkU32(o.eventNr, 'eventNr');
  let flags = o.table ? DmFlag.STATUS_TABLE : 0;
  if (o.noflush) flags |= DmFlag.NOFLUSH;
  const handle = native.dmWait({ ...a.fields, eventNr, flags });
  const onAbort = (): void => handle.cancel();
  if (o.signal?.aborted) handle.cancel();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const r = await handle.promise;
    return { info: toInfo(r), targets: r.targets ?? [] };
  } catch (err) {
    throw fromNative(err, 'DEV_WAIT', a.label, stack);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}
