import type { RawRequest } from '../native';
import { checkMajor, checkMinor, checkName, checkUuid } from './validate';

/** How a call names a device: its name (a bare string or { name }), its uuid, or its dev_t. */
export type DeviceRef = string | { name: string } | { uuid: string } | { major: number; minor: number };

export interface Address {
  fields: Pick<RawRequest, 'name' | 'uuid' | 'major' | 'minor'>;
  /** The device as addressed, for error messages. */
  label: string;
  /** Set when the device was addressed by name. */
  name?: string;
}

export function addressOf(ref: DeviceRef): Address {
  if (typeof ref === 'string') return byName(ref);
  if (typeof ref !== 'object' || ref === null) throw new TypeError('a device is a name, { name }, { uuid } or { major, minor }');
  const keys = ['name', 'uuid', 'major'].filter((k) => k in ref);
  if (keys.length !== 1) throw new TypeError(`address a device by exactly one of name, uuid or major/minor, got ${keys.join(', ') || 'none'}`);
  if ('name' in ref) return byName(ref.name);
  if ('uuid' in ref) {
    const uuid = checkUuid(ref.uuid);
    return { fields: { uuid }, label: `uuid ${uuid}` };
  }
  const major = checkMajor(ref.major);
  const minor = checkMinor(ref.minor);
  return { fields: { major, minor }, label: `${major}:${minor}` };
}

function byName(n: unknown): Address {
  const name = checkName(n);
  return { fields: { name }, label: name, name };
}
