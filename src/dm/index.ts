// The raw device-mapper layer: one typed function per dm-ioctl v4 command.
export { DmFlag, decodeFlags } from './flags';
export type { DeviceFlags } from './flags';
export type { DeviceRef } from './device';
export type { DeviceInfo, TargetLine } from './info';
export type { BufferOptions, TargetInput } from './validate';
export {
  version, versionSync, info, infoSync, listDevices, listDevicesSync, deps, depsSync,
  status, statusSync, table, tableSync, listVersions, listVersionsSync, targetVersion, targetVersionSync,
  infoOrNone,
} from './query';
export type { InterfaceVersion, ListedDevice, TableQueryOptions } from './query';
export { create, remove, removeAll, rename, nameOf } from './lifecycle';
export type { CreateOptions, RemoveOptions, RemoveResult } from './lifecycle';
export { suspend, resume, suspendResumeCycle, suspendSequence } from './suspend';
export type { SuspendOptions, CycleResult, ResumeOptions, SuspendStep } from './suspend';
export { loadRawTable, clearTable } from './load';
export { createDevices, removeDevices } from './batch';
export type { NewDevice } from './batch';
export type { LoadOptions } from './load';
export { targetMessage, setGeometry, armPoll } from './message';
export type { Geometry } from './message';
export { waitEvent } from './wait';
export type { WaitOptions, WaitResult } from './wait';
export { MAPPER_DIR, nodePath } from './nodes';
export { setIoctlObserver } from './call';
export type { IoctlSeen } from './call';
export { UdevFlag, setUdevClassifier, udevKindOf, udevRunning } from './udev';
export type { UdevChoice, UdevKind } from './udev';
