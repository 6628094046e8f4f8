/**
 * The raw device-mapper layer (`devmapper/dm`): one typed function per dm-ioctl v4 command.
 * Tables here are raw `{ start, length, type, params }` lines; the typed, validated loader and
 * reader are `loadTable` and `readTable` in the main entry.
 * @packageDocumentation
 * @module devmapper/dm
 */
export { DmFlag, decodeFlags } from '../dm/flags';
export type { DeviceFlags } from '../dm/flags';
export type { DeviceRef } from '../dm/device';
export type { DeviceInfo, TargetLine } from '../dm/info';
export type { DeviceHeader, RawTarget, RawTargetVersion } from '../native';
export type { BufferOptions, TargetInput } from '../dm/validate';
export {
  version, versionSync, info, infoSync, listDevices, listDevicesSync, deps, depsSync,
  status, statusSync, table, tableSync, listVersions, listVersionsSync, targetVersion, targetVersionSync,
  infoOrNone,
} from '../dm/query';
export type { InterfaceVersion, ListedDevice, TableQueryOptions } from '../dm/query';
export { create, remove, removeAll, rename, nameOf, settledOpenCount } from '../dm/lifecycle';
export type { CreateOptions, RemoveOptions, RemoveResult } from '../dm/lifecycle';
export { suspend, resume, suspendResumeCycle, suspendSequence } from '../dm/suspend';
export type { SuspendOptions, CycleResult, ResumeOptions, SuspendStep } from '../dm/suspend';
export { loadRawTable, clearTable } from '../dm/load';
export type { LoadOptions } from '../dm/load';
export { createDevices, removeDevices } from '../dm/batch';
export type { NewDevice } from '../dm/batch';
export { targetMessage, setGeometry, armPoll } from '../dm/message';
export type { Geometry } from '../dm/message';
export { waitEvent } from '../dm/wait';
export type { WaitOptions, WaitResult } from '../dm/wait';
export { MAPPER_DIR, nodePath } from '../dm/nodes';
export { UdevFlag, udevKindOf, udevRunning } from '../dm/udev';
export type { UdevChoice, UdevKind } from '../dm/udev';
export { DmError } from '../errors';
