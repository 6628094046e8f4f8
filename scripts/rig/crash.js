'use strict';
// The crash test: one test over three boots of the guest on one scratch disk that outlives them
// (test/crash/stages.cjs says what each boot does). Boots 1 and 2 end in a hard reset that the
// stage means; boot 3 checks everything and exits 0. Resolves with 0 when all three did.
const fs = require('node:fs');
const path = require('node:path');
const { CACHE, log } = require('./assets');
const { runInGuest } = require('./run');

const ROOT = path.join(__dirname, '..', '..');

async function runCrashTest(kernel) {
  const img = path.join(CACHE, `crash-${process.pid}.img`);
  fs.rmSync(img, { force: true });
  const saved = process.env.DEVMAPPER_RIG_SCRATCH;
  process.env.DEVMAPPER_RIG_SCRATCH = img;
  try {
    for (const stage of [1, 2, 3]) {
      log(`crash test: boot ${stage} of 3`);
      const code = await runInGuest([process.execPath, path.join(ROOT, 'test', 'crash', 'stages.cjs'), String(stage)], { cwd: ROOT, kernel, resetOk: stage < 3, timeout: 900 });
      if (code !== 0) {
        log(`crash test: boot ${stage} failed (exit ${code})`);
        return 1;
      }
    }
    log('crash test: passed (divert and a migration, reset in the copy, recover onto the old disk; merge and a migration, reset in the merge and the finish, recover onto the new disk: every fsync\'d file intact, fsck clean, nothing left)');
    return 0;
  } finally {
    if (saved === undefined) delete process.env.DEVMAPPER_RIG_SCRATCH;
    else process.env.DEVMAPPER_RIG_SCRATCH = saved;
    fs.rmSync(img, { force: true });
  }
}

module.exports = { runCrashTest };

if (require.main === module) {
  runCrashTest(process.env.DEVMAPPER_RIG_KERNEL).then((code) => process.exit(code), (err) => {
    console.error(err);
    process.exit(1);
  });
}
