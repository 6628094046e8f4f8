// LVM2's VG lock as devmapper takes it: the locking_dir lvm2 would use, and the exclusive flock on
// V_<vg> (held here through a second open file description, as another process would hold it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lvmLockingDir, withVgLock } from '../../src/lvm/lock';
import { native } from '../../src/native';

const dirs: string[] = [];
const saved = process.env.LVM_SYSTEM_DIR;
afterEach(() => {
  if (saved === undefined) delete process.env.LVM_SYSTEM_DIR;
  else process.env.LVM_SYSTEM_DIR = saved;
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});

function systemDir(conf?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dm-lvmconf-'));
  dirs.push(dir);
  if (conf !== undefined) fs.writeFileSync(path.join(dir, 'lvm.conf'), conf);
  process.env.LVM_SYSTEM_DIR = dir;
  return dir;
}

describe('lvm lock', () => {
  it("locking_dir comes from lvm.conf's global section, else lvm2's default", () => {
    const dir = systemDir('# lvm.conf\nconfig { checks = 1 }\nglobal {\n\tumask = 077\n\tlocking_dir = "/run/x/lvm"\n}\n');
    expect(lvmLockingDir()).toBe('/run/x/lvm');
    fs.writeFileSync(path.join(dir, 'lvm.conf'), 'global { umask = 077 }\n');
    expect(lvmLockingDir()).toBe('/run/lock/lvm');
    systemDir();
    expect(lvmLockingDir()).toBe('/run/lock/lvm');
  });

  it('withVgLock holds V_<vg> exclusively while it runs, and refuses with LOCKED when another holder keeps it', async () => {
    const dir = systemDir();
    const lockDir = path.join(dir, 'lock');
    fs.writeFileSync(path.join(dir, 'lvm.conf'), `global { locking_dir = "${lockDir}" }\n`);
    const file = path.join(lockDir, 'V_vg0');
    const heldInside = await withVgLock('vg0', {}, async () => {
      const other = fs.openSync(file, 'r');
      try {
        return native.flockTry(other, false);
      } finally {
        fs.closeSync(other);
      }
    });
    expect(heldInside).toBe(os.constants.errno.EWOULDBLOCK);
    const holder = fs.openSync(file, 'r');
    try {
      expect(native.flockTry(holder, true)).toBe(0);
      let ran = false;
      await expect(withVgLock('vg0', { lockTimeoutMs: 50 }, async () => void (ran = true))).rejects.toMatchObject({
        name: 'LvmError', code: 'LOCKED', message: expect.stringMatching(/VG vg0 is locked by another LVM command .*V_vg0.*nothing was changed/),
      });
      expect(ran).toBe(false);
    } finally {
      fs.closeSync(holder);
    }
    // Released: the next caller gets it at once.
    await expect(withVgLock('vg0', { lockTimeoutMs: 0 }, async () => 'ran')).resolves.toBe('ran');
  });
});
