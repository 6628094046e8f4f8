// Public entry of the durable records: where they live, how they are written and read, and the
// stable identities that name the devices in them.
export { stateDir, fileNameOf, recordFile, writeDurably, removeDurably, readJson, recordFiles, strayTemporaries, RecordError } from './store';
export { identify, locate, describeIdentity, IdentityError } from './identity';
export type { DeviceIdentity, Roots } from './identity';
