import { callerStack } from '../errors';
import { DmCmd } from '../native';
import { callAsync } from './call';
import { addressOf } from './device';
import type { DeviceRef } from './device';
import { DmFlag } from './flags';
import { toInfo } from './info';
import type { DeviceInfo } from './info';
import { checkTargets } from './validate';
import type { TargetInput } from './validate';

/** Options of loadRawTable(). */
export interface LoadOptions {
  readOnly?: boolean;
  /** The table holds secrets (keys): DM_SECURE_DATA_FLAG, and every buffer is wiped. */
  secure?: boolean;
}

/** TABLE_LOAD into the inactive slot; resume() makes it live. */
export async function loadRawTable(ref: DeviceRef, targets: TargetInput[], o: LoadOptions = {}): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  const req = { ...a.fields, targets: checkTargets(targets), flags: o.readOnly ? DmFlag.READONLY : 0, secure: !!o.secure };
  return toInfo(await callAsync(DmCmd.TABLE_LOAD, req, a.label, stack));
}

/** TABLE_CLEAR: drops the inactive table. */
export async function clearTable(ref: DeviceRef): Promise<DeviceInfo> {
  const stack = callerStack();
  const a = addressOf(ref);
  return toInfo(await callAsync(DmCmd.TABLE_CLEAR, { ...a.fields }, a.label, stack));
}
