/**
 * Test hooks (`devmapper/testing`): fault injection between the steps of the operations, and
 * observation of every device-mapper ioctl. Production code never sets them.
 * @packageDocumentation
 * @module devmapper/testing
 */
export { setFaultHook, kernelRefusal } from '../ops/faults';
export type { FaultHook } from '../ops/faults';
export { setIoctlObserver } from '../dm/call';
export type { IoctlSeen } from '../dm/call';
