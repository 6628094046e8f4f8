'use strict';
// Builds (once per kernel, busybox and init) the initramfs: busybox, the modules, the init.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { writeCpio } = require('./cpio');
const { moduleClosure, readModule } = require('./modules');

const DIR = 0o040755;
const FILE = 0o100755;
const LINK = 0o120777;

function buildInitramfs({ kernel, busybox, cacheDir }) {
  const mods = moduleClosure(kernel.modules);
  const init = fs.readFileSync(path.join(__dirname, 'init.sh'));
  const key = crypto.createHash('sha256')
    .update(kernel.release).update(init).update(fs.readFileSync(busybox))
    .update(mods.map((m) => m.name).join(',')).digest('hex').slice(0, 16);
  const out = path.join(cacheDir, `initramfs-${key}.cpio`);
  if (fs.existsSync(out)) return out;
  const entries = ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'tmp'].map((name) => ({ name, mode: DIR }));
  entries.push({ name: 'bin/busybox', mode: FILE, data: fs.readFileSync(busybox) });
  for (const app of ['sh', 'mount', 'umount', 'insmod', 'mkdir', 'cat', 'cp', 'echo', 'chroot', 'poweroff', 'sync', 'chmod']) {
    entries.push({ name: `bin/${app}`, mode: LINK, target: 'busybox' });
  }
  for (const m of mods) entries.push({ name: `lib/modules/${m.name}.ko`, mode: 0o100644, data: readModule(m.file) });
  entries.push({ name: 'modules.list', mode: 0o100644, data: Buffer.from(mods.map((m) => m.name).join('\n') + '\n') });
  entries.push({ name: 'init', mode: FILE, data: init });
  const tmp = `${out}.tmp`;
  writeCpio(tmp, entries);
  fs.renameSync(tmp, out);
  return out;
}

module.exports = { buildInitramfs };
