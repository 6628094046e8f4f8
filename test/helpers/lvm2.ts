// Debian's lvm2, fetched by the rig (DEVMAPPER_RIG_LVM), run as tests need it beside devmapper:
// its own config dir, only the given devices, no udev sync, no metadata backups on the read-only
// root, no dmeventd.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const LVM = process.env.DEVMAPPER_RIG_LVM ?? ['/usr/sbin/lvm', '/sbin/lvm'].find((p) => fs.existsSync(p));

export interface Lvm2 {
  /** Runs `lvm ARGS...`; throws with lvm's stderr when it fails. */
  run(args: string[]): string;
  /** Runs it and returns the exit code and output, failing or not. */
  tryRun(args: string[]): { code: number | null; stdout: string; stderr: string };
}

/** lvm2 confined to `devices` (block device paths), with its config and lock dir under `dir`. */
export function lvm2(dir: string, devices: string[]): Lvm2 {
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
  const tryRun = (args: string[]) => {
    const r = spawnSync(LVM!, args, { encoding: 'utf8', env, timeout: 120_000 });
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
