'use strict';
// Debian's lvm2 as the rig fetches it (DEVMAPPER_RIG_LVM), run the way tests and benchmarks need
// it beside devmapper: its own config dir, only the given devices, no udev sync, no metadata
// backups on the read-only root, no dmeventd.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const LVM = process.env.DEVMAPPER_RIG_LVM ?? ['/usr/sbin/lvm', '/sbin/lvm'].find((p) => fs.existsSync(p));

/** lvm2 confined to `devices` (block device paths), with its config and lock dir under `dir`.
 *  `run(args)` returns stdout and throws with lvm's stderr on failure; `tryRun` never throws. */
function lvm2(dir, devices) {
  if (!LVM || !fs.existsSync(LVM)) throw new Error('lvm2 is needed (the rig names it in DEVMAPPER_RIG_LVM)');
  const conf = path.join(dir, 'lvm');
  fs.mkdirSync(path.join(conf, 'lock'), { recursive: true });
  const accept = devices.map((d) => `"a|^${d}$|"`).join(', ');
  fs.writeFileSync(path.join(conf, 'lvm.conf'), `
devices {
  filter = [ ${accept}, "r|.*|" ]
  global_filter = [ ${accept}, "r|.*|" ]
  obtain_device_list_from_udev = 0
  external_device_info_source = "none"
  use_devicesfile = 0
  hints = "none"
}
global { locking_dir = "${path.join(conf, 'lock')}" event_activation = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 verify_udev_operations = 0 }
backup { backup = 0 archive = 0 }
`);
  const env = {
    ...process.env,
    LVM_SYSTEM_DIR: conf,
    LVM_SUPPRESS_FD_WARNINGS: '1',
    ...(process.env.DEVMAPPER_RIG_LVM_LIBS ? { LD_LIBRARY_PATH: process.env.DEVMAPPER_RIG_LVM_LIBS } : {}),
  };
  const tryRun = (args) => {
    const r = spawnSync(LVM, args, { encoding: 'utf8', env, timeout: 300_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    tryRun,
    run(args) {
      const r = tryRun(args);
      if (r.code !== 0) throw new Error(`lvm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
  };
}

module.exports = { LVM, lvm2 };
