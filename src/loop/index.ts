export { attach } from './attach';
export { detach } from './detach';
export { info, list, findByBackingFile } from './list';
export { refreshCapacity, setDirectIo, setBlockSize, blockDeviceSize, flushBuffers } from './settings';
export { freeDevice, addDevice, removeDevice } from './control';
export type { AttachOptions, BlockSize, LoopDevice, LoopDeviceInfo } from './types';
