// Public entry of backups: backup() and, for `dmctl recover`, recoverBackups().
export { backup, backupSnapshotName } from './backup';
export type { BackupOptions, BackupResult } from './backup';
export type { CompressKind } from './compress';
export type { ChecksumKind, CopyProgress, CopyResult } from './copy';
export { CopyMismatchError } from './copy';
export { recoverBackups } from './recover';
