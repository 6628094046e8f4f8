'use strict';
// The modules the guest loads, in dependency order. Debian ships no modules.dep inside the
// package (depmod runs at install), so dependencies are read from each module's modinfo.
// From trixie on the modules are xz-compressed; they are unpacked here on the host, so the
// guest's busybox insmod gets plain ELF whatever compression its build knows.
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { execFileSync } = require('node:child_process');
const { ensureTool } = require('./assets');

// crc32c first: libcrc32c's softdep names the algorithm alias, which no file here is called.
// A name a kernel does not ship as a module is built in there (virtio_pci from 6.12) or gone
// (7.x has crc32c in lib/ and the crypto API alias in crc32c_cryptoapi) and is left out.
const WANTED = [
  'crc32c_generic', 'crc32c_intel', 'crc32c_cryptoapi',
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
      else {
        const m = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(e.name);
        if (m) idx.set(canon(m[1]), p);
      }
    }
  };
  walk(path.join(dir, 'kernel'));
  return idx;
}

const plain = new Map();
/** The module's ELF image, decompressed when the file is. */
function readModule(file) {
  if (plain.has(file)) return plain.get(file);
  let buf;
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(fs.readFileSync(file));
  else if (file.endsWith('.xz')) buf = execFileSync(ensureTool('xz', 'xz-utils'), ['-dc', file], { maxBuffer: 1 << 30 });
  else if (file.endsWith('.zst')) buf = execFileSync(ensureTool('zstd', 'zstd'), ['-dcq', file], { maxBuffer: 1 << 30 });
  else buf = fs.readFileSync(file);
  plain.set(file, buf);
  return buf;
}

function modinfo(file, key) {
  const buf = readModule(file);
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

module.exports = { moduleClosure, readModule };
