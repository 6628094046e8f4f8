import { LvmError } from './errors';

/** The 64 characters of an LVM2 id (lib/id/id.c). */
const ID_CHARS = /^[0-9a-zA-Z!#]{32}$/;
/** Dash positions of the printed form: groups of 6-4-4-4-4-4-6. */
const GROUPS = [6, 4, 4, 4, 4, 4, 6];

/** The 32-character id from its printed form; LVM2 ignores every dash when it reads one. */
export function parseId(text: string, where: string): string {
  const id = text.replace(/-/g, '');
  if (!ID_CHARS.test(id)) throw new LvmError('BAD_UUID', where, `not an LVM2 uuid: ${JSON.stringify(text)}`);
  return id;
}

/** The printed form of a 32-character id, as `pvs -o uuid` shows it. */
export function formatId(id: string): string {
  const out: string[] = [];
  let at = 0;
  for (const n of GROUPS) {
    out.push(id.slice(at, at + n));
    at += n;
  }
  return out.join('-');
}

/** LVM2's rule for VG and LV names (lib/misc/lvm-string.c), which keeps `VG-LV` unambiguous. */
export function checkName(name: string, where: string): string {
  const bad = name === '' ? 'is empty'
    : name.startsWith('-') ? 'starts with a hyphen'
    : name === '.' || name === '..' ? 'is a dot name'
    : !/^[A-Za-z0-9._+-]+$/.test(name) ? 'has a character outside [A-Za-z0-9._+-]'
    : name.length >= 128 ? 'is 128 characters or longer'
    : undefined;
  if (bad) throw new LvmError('BAD_NAME', where, `the name ${JSON.stringify(name)} ${bad}`);
  return name;
}

/** The dm name LVM2 gives an LV: `VG-LV`, each `-` inside either name doubled (libdm's dm_build_dm_name). */
export function dmName(vg: string, lv: string): string {
  return `${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
}

/** The dm uuid of an LV without a layer: `LVM-` then the VG id and the LV id, 32 characters each, no dashes. */
export function dmUuidOf(vgId: string, lvId: string): string {
  return `LVM-${vgId}${lvId}`;
}
