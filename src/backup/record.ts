// What a backup under way leaves on disk, written before its snapshot exists: if the process dies,
// `dmctl recover` finds here the snapshot to remove and the partial file to delete (or keep).
import path from 'node:path';
import { readJson, recordFile, recordFiles, removeDurably, stateDir, writeDurably } from '../records';

export interface BackupRecord {
  device: string;
  /** The snapshot the copy reads. */
  snapshot: string;
  /** The destination as given, and the file being written when it is a file. */
  to: string;
  partial?: string;
  keepPartial: boolean;
  pid: number;
  started: string;
}

const dir = (): string => path.join(stateDir(), 'backups');

export function writeBackupRecord(r: BackupRecord): void {
  writeDurably(recordFile(r.device, dir()), r);
}

export function readBackupRecord(device: string): BackupRecord | undefined {
  return readJson(recordFile(device, dir())) as BackupRecord | undefined;
}

export function removeBackupRecord(device: string): void {
  removeDurably(recordFile(device, dir()));
}

/** Every backup record, as read (a damaged one as undefined, named by its file). */
export function backupRecords(): Array<{ file: string; record: BackupRecord | undefined }> {
  return recordFiles(dir()).map((file) => {
    let r: BackupRecord | undefined;
    try {
      r = readJson(file) as BackupRecord | undefined;
    } catch {
      r = undefined; // not JSON: reported by its file name
    }
    return { file, record: typeof r?.device === 'string' && typeof r.snapshot === 'string' ? r : undefined };
  });
}
