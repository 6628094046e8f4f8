// Helpers of remove/remove_all/mknodes: dmsetup's --force error table and dm_mknodes.
import fs from 'node:fs';
import * as dm from '../dm';
import type { DeviceRef } from '../dm';
import { ensureNode } from '../dm/nodes';

/** Like dmsetup --force: swap in an error table so pending I/O fails instead of hanging. */
export async function errorTable(ref: DeviceRef): Promise<void> {
  const sectors = (await dm.table(ref)).reduce((n, t) => n + t.length, 0n);
  if (sectors === 0n) return;
  await dm.loadRawTable(ref, [{ start: 0n, length: sectors, type: 'error', params: '' }]);
  await dm.resume(ref);
}

/** dm_mknodes: a node for each device (or the one named), stale nodes removed. */
export async function syncNodes(only?: string): Promise<{ created: string[]; removed: string[] }> {
  const devices = await dm.listDevices();
  const created: string[] = [];
  const removed: string[] = [];
  for (const d of devices) {
    if (only !== undefined && d.name !== only) continue;
    const existed = fs.existsSync(dm.nodePath(d.name));
    await ensureNode(d.name, d.major, d.minor, false);
    if (!existed) created.push(d.name);
  }
  if (only !== undefined && !devices.some((d) => d.name === only)) {
    await dm.info(only); // ENXIO: no such device
  }
  if (only === undefined && fs.existsSync(dm.MAPPER_DIR)) {
    const live = new Set(devices.map((d) => d.name));
    for (const entry of fs.readdirSync(dm.MAPPER_DIR)) {
      if (entry === 'control' || live.has(entry)) continue;
      const p = dm.nodePath(entry);
      const st = fs.lstatSync(p);
      if (st.isBlockDevice() || st.isSymbolicLink()) {
        fs.rmSync(p, { force: true });
        removed.push(entry);
      }
    }
  }
  return { created, removed };
}
