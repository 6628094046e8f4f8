// devmapper's public API: raw ioctls under `dm`, loop devices under `loop`, the typed table
// and status model at the top level.
export * as dm from './dm';
export * as loop from './loop';
export * from './table';
export * from './units';
export { DmError } from './errors';
