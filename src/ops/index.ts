// Atomic live operations (placeholder index; filled in below as features land).
export { OperationError } from './errors';
export type { OperationState, DeviceState } from './errors';
export { setFaultHook, kernelRefusal } from './faults';
export type { FaultHook } from './faults';
export { replace, transaction, toTargets } from './replace';
export type { TableInput, ReplaceOptions, ReplaceResult, Change, SuspendChoice } from './replace';
export { stackOrder, heldSuspended } from './stack';
