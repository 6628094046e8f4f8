'use strict';
// What the host's real CPU says about costs the software-emulated guest inflates.
const { addon, stats, timeAsync, batchFor } = require('./lib');

/** Only where the kernel has no device-mapper: one dmIoctlAsync that fails at once (opening the
 *  control device), i.e. the round trip through devmapper's thread pool and back that every async call
 *  pays, on this machine's real CPU. */
async function asyncHopCost({ quick = false } = {}) {
  const { native, DmCmd } = addon();
  const one = () => native.dmIoctlAsync(DmCmd.DEV_STATUS, { name: 'bench' }).catch(() => undefined);
  const batch = await batchFor(one, 10);
  return stats(await timeAsync(one, { warmup: batch, batches: quick ? 5 : 30, batch }));
}

module.exports = { asyncHopCost };
