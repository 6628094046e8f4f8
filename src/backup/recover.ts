// What a killed backup left: its snapshot (rebuilt by ops.recover after a reboot, like any other),
// its partial file and its record. A backup whose process still runs holds its snapshot's lock
// and is left alone.
import fs from 'node:fs';
import * as dm from '../dm';
import * as ops from '../ops';
import { backupRecords, removeBackupRecord } from './record';

/** Removes what interrupted backups left; one report per backup record. */
export async function recoverBackups(o: ops.LockOptions = {}): Promise<ops.RecoverReport[]> {
  const out: ops.RecoverReport[] = [];
  for (const { file, record: r } of backupRecords()) {
    if (!r) {
      out.push({ device: file, found: 'a backup record that cannot be read', did: [], state: 'refused', error: `look at ${file}` });
      continue;
    }
    const found = `a backup by process ${r.pid} (started ${r.started}) that did not finish`;
    try {
      // lockTimeoutMs 0 by default: a live backup holds the lock for as long as it copies.
      const report = await ops.withLocks('recover', [r.snapshot], { lockTimeoutMs: 0, ...o }, async () => {
        const did: string[] = [];
        if (dm.infoOrNone(r.snapshot)) {
          await ops.removeSnapshot(r.snapshot);
          did.push(`removed its snapshot ${r.snapshot}`);
        }
        if (r.partial && fs.existsSync(r.partial)) {
          if (r.keepPartial) did.push(`kept the partial image ${r.partial}, as asked`);
          else {
            fs.rmSync(r.partial, { force: true });
            did.push(`deleted the partial image ${r.partial}`);
          }
        }
        removeBackupRecord(r.device);
        return { device: r.device, found, did, state: dm.infoOrNone(r.device) ? 'plain' : 'gone' } as ops.RecoverReport;
      });
      out.push(report);
    } catch (err) {
      const running = (err as Error).name === 'DeviceLockedError';
      if (running) out.push({ device: r.device, found: `a backup under way (process ${r.pid}): left alone`, did: [], state: 'origin' });
      else out.push({ device: r.device, found, did: [], state: 'refused', error: (err as Error).message });
    }
  }
  return out;
}
