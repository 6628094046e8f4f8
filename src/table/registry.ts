// The one place target types are listed. Everything else asks the registry.
import type { TargetDescriptor } from './types';
import { error, linear, striped, zero } from './targets/basic';
import { cache } from './targets/cache';
import { crypt } from './targets/crypt';
import { delay, flakey, logWrites } from './targets/debugging';
import { integrity } from './targets/integrity';
import { mirror } from './targets/mirror';
import { snapshot, snapshotMerge, snapshotOrigin } from './targets/snapshot';
import { thin, thinPool } from './targets/thin';
import { verity } from './targets/verity';

const DESCRIPTORS = [
  linear, striped, zero, error,
  snapshotOrigin, snapshot, snapshotMerge,
  crypt, flakey, delay, logWrites,
  thinPool, thin, mirror, cache, verity, integrity,
] as const;

const REGISTRY = new Map<string, TargetDescriptor>(DESCRIPTORS.map((d) => [d.type, d as TargetDescriptor]));

/**
 * The descriptor (parser, formatter, checks) of a typed target type; undefined if the type has no typed form.
 */
export function descriptorFor(type: string): TargetDescriptor | undefined {
  return REGISTRY.get(type);
}

/** Target types with a typed form. */
export function typedTargetTypes(): string[] {
  return [...REGISTRY.keys()];
}
