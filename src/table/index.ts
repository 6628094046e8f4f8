// The table and status model. Pure: nothing here talks to the kernel. Loading and reading typed
// tables on the kernel (loadTable, readTable, readStatus) is ./kernel.ts, exported from
// src/index.ts, so this model loads without the native addon. The public part is src/api/table.ts;
// the rest is for the other layers.
export * from '../api/table';
export type { TargetDescriptor, DeviceUse, FeatureNeed, FieldProblem } from './types';
export { descriptorFor } from './registry';
export { tokenize } from './args';
