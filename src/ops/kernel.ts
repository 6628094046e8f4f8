// Small reads of kernel state the operations share.
import fs from 'node:fs';
import * as dm from '../dm';
import type { DeviceInfo } from '../dm';
import type { RawTarget } from '../native';
import { devPath, formatDevNum, fromRawTargets, hideTableKeys, needsSecureData, parseDevNum, resolveDevRef, type DevNum } from '../table';
import { tokenize } from '../table/args';

/** A device's dev_t as "M:m", the key the operations index devices by. */
export const devKey = formatDevNum;

export const infoOrNone = dm.infoOrNone;

// Tables are read with DM_SECURE_DATA_FLAG: one may hold a key, and the kernel then wipes its
// copies. What an operation returns or throws shows a table only through hideTableKeys.
export function liveTable(name: string): RawTarget[] {
  return dm.tableSync(name, { secure: true });
}

export function inactiveTable(name: string): RawTarget[] {
  return dm.tableSync(name, { inactive: true, secure: true });
}

/** True when the table can hold a key (crypt, integrity): then it loads with DM_SECURE_DATA_FLAG. */
export function secureTable(t: Parameters<typeof fromRawTargets>[0]): boolean {
  try {
    return needsSecureData(fromRawTargets(t, { generic: true }));
  } catch {
    return true;
  }
}

const line = (t: RawTarget): string => `${t.start} ${t.length} ${t.type} ${t.params.trim()}`;

export function sameTable(a: readonly RawTarget[], b: readonly RawTarget[]): boolean {
  return a.length === b.length && a.every((t, i) => line(t) === line(b[i]));
}

/** A table as text for results and messages: keys zeroed. */
export function tableText(t: readonly RawTarget[]): string {
  return hideTableKeys(t).map((x) => `${line(x)}\n`).join('');
}

export function tableLength(t: readonly RawTarget[]): bigint {
  return t.reduce((n, x) => n + BigInt(x.length), 0n);
}

/** The dm device with this dev_t, or undefined when it is not a dm device. */
export function dmDeviceAt(d: DevNum): DeviceInfo | undefined {
  return infoOrNone({ major: d.major, minor: d.minor });
}

/** Every block device a table line names: "M:m" tokens and /dev paths. */
export function tableRefs(targets: readonly { params: string }[]): DevNum[] {
  const out: DevNum[] = [];
  for (const t of targets) {
    for (const w of tokenize(t.params)) {
      const num = parseDevNum(w);
      if (num) out.push(num);
      else if (w.startsWith('/dev/')) {
        try {
          out.push(resolveDevRef(w));
        } catch {
          // not a block device: the kernel will say so on load
        }
      }
    }
  }
  return out;
}

/** The /dev path of a block device (the /dev/mapper name for dm devices). */
export function pathOf(d: DevNum): string {
  return devPath(d.major, d.minor) ?? `/dev/block/${devKey(d)}`;
}

/** Mount points of the block device, from /proc/self/mountinfo. */
export function mountsOf(d: DevNum): string[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === devKey(d))
    .map((f) => f[4]);
}
