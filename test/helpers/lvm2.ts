// Debian's lvm2 beside devmapper in tests: scripts/rig/lvm2.js, shared with the benchmarks.
export interface Lvm2 {
  /** Runs `lvm ARGS...`; throws with lvm's stderr when it fails. */
  run(args: string[]): string;
  /** Runs it and returns the exit code and output, failing or not. */
  tryRun(args: string[]): { code: number | null; stdout: string; stderr: string };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rig = require('../../scripts/rig/lvm2.js') as { lvm2(dir: string, devices: string[]): Lvm2 };

/** lvm2 confined to `devices` (block device paths), with its config and lock dir under `dir`. */
export const lvm2 = rig.lvm2;
