'use strict';
// devmapper's own user-space work for one DEV_STATUS call, without the kernel: the request parsed
// and encoded by the addon, a reply decoded into a JS object, and the TypeScript wrapper's
// DeviceInfo. Needs no device-mapper, so it also runs on a
// host whose kernel has none: on real hardware this says what the library adds to each ioctl,
// where the QEMU TCG guest inflates user-space code far more than the kernel's ioctl path.
// Encoded with no data area: dmEncode hands back a JS Buffer, whose allocation would otherwise
// outweigh the 16 KiB that dmIoctl zeroes; so this leaves that out.
const path = require('node:path');
const { ROOT, addon, stats, timeSync, timeAsync, batchFor } = require('./lib');

async function userspaceCost({ quick = false } = {}) {
  const { native, DmCmd } = addon();
  const { toInfo } = require(path.join(ROOT, 'dist', 'dm', 'info'));
  const { addressOf } = require(path.join(ROOT, 'dist', 'dm', 'device'));
  // A DEV_STATUS reply as the kernel writes it: interface 4.47, header only, device 253:0.
  const reply = native.dmEncode(DmCmd.DEV_STATUS, { name: 'bench', major: 253, minor: 0 }, 0);
  reply.writeUInt32LE(47, 4);
  reply.writeUInt32LE(1 << 5, 28); // flags: ACTIVE_PRESENT
  const one = () => {
    const a = addressOf('bench');
    native.dmEncode(DmCmd.DEV_STATUS, { ...a.fields, flags: 0 }, 0);
    return toInfo(native.dmDecode(DmCmd.DEV_STATUS, reply));
  };
  const batch = await batchFor(one, 10);
  return stats(timeSync(one, { warmup: batch, batches: quick ? 5 : 30, batch }));
}

/** Only where the kernel has no device-mapper: one dmIoctlAsync that fails at once (opening the
 *  control device), i.e. the round trip through the libuv pool and back that every async call
 *  pays, on this machine's real CPU. */
async function asyncHopCost({ quick = false } = {}) {
  const { native, DmCmd } = addon();
  const one = () => native.dmIoctlAsync(DmCmd.DEV_STATUS, { name: 'bench' }).catch(() => undefined);
  const batch = await batchFor(one, 10);
  return stats(await timeAsync(one, { warmup: batch, batches: quick ? 5 : 30, batch }));
}

module.exports = { userspaceCost, asyncHopCost };
