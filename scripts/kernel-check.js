'use strict';
// Can this process drive device-mapper here, or does it need the guest?
const fs = require('node:fs');

function hostHasDeviceMapper() {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  let misc = '';
  try {
    misc = fs.readFileSync('/proc/misc', 'utf8');
  } catch {
    return { ok: false, why: 'no /proc/misc' };
  }
  if (!/\sdevice-mapper$/m.test(misc)) return { ok: false, why: 'the running kernel has no device-mapper' };
  try {
    fs.closeSync(fs.openSync('/dev/mapper/control', 'r+'));
  } catch (e) {
    return { ok: false, why: `cannot open /dev/mapper/control: ${e.code}` };
  }
  return { ok: true };
}

module.exports = { hostHasDeviceMapper };
