'use strict';
// The modules the guest loads, in dependency order. Debian ships no modules.dep inside the
// package (depmod runs at install), so dependencies are read from each module's modinfo.
const fs = require('node:fs');
const path = require('node:path');

// crc32c first: libcrc32c's softdep names the algorithm alias, which no file here is called.
const WANTED = [
  'crc32c_generic', 'crc32c_intel',
  'virtio_pci', 'virtio_blk', '9pnet_virtio', '9p', 'overlay', 'loop', 'ext4',
  'dm_mod', 'dm_snapshot', 'dm_zero', 'dm_flakey', 'dm_delay', 'dm_thin_pool', 'dm_crypt',
  'dm_log_writes', 'dm_mirror', 'dm_cache', 'dm_cache_smq', 'dm_integrity', 'dm_verity',
  'xts', 'aesni_intel',
];

const canon = (n) => n.replace(/-/g, '_');

function indexModules(dir) {
  const idx = new Map();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) idx.set(canon(e.name.slice(0, -3)), p);
    }
  };
  walk(path.join(dir, 'kernel'));
  return idx;
}

function modinfo(file, key) {
  const buf = fs.readFileSync(file);
  const needle = Buffer.from(`${key}=`);
  const out = [];
  for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) {
    const end = buf.indexOf(0, i);
    out.push(buf.subarray(i + needle.length, end).toString());
  }
  return out;
}

/** Returns [{name, file}] for WANTED and everything they need, dependencies first. */
function moduleClosure(dir) {
  const idx = indexModules(dir);
  const order = [];
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const file = idx.get(name);
    if (!file) return; // built into the kernel
    for (const dep of modinfo(file, 'depends').join(',').split(',').filter(Boolean)) visit(canon(dep));
    for (const soft of modinfo(file, 'softdep')) {
      for (const m of soft.split(/\s+/).filter((w) => w && !w.endsWith(':'))) visit(canon(m));
    }
    order.push({ name, file });
  };
  WANTED.forEach(visit);
  return order;
}

module.exports = { moduleClosure };
