// The raw device-mapper layer: its public part (src/api/dm.ts, devmapper/dm) and the plumbing
// the layers above register or observe through.
export * from '../api/dm';
export { setIoctlObserver } from './call';
export type { IoctlSeen } from './call';
export { setUdevClassifier } from './udev';
