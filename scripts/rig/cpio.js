'use strict';
// A minimal writer for the "newc" cpio format the kernel unpacks as an initramfs.
const fs = require('node:fs');

function header(ino, mode, size, nameLen) {
  const hex = (n) => n.toString(16).padStart(8, '0');
  return '070701' + [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, nameLen, 0].map(hex).join('');
}

const pad4 = (n) => Buffer.alloc((4 - (n % 4)) % 4);

/** entries: [{name, mode, data?: Buffer, target?: string}] (dirs, files, symlinks). */
function writeCpio(file, entries) {
  const parts = [];
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0, data: Buffer.alloc(0) }]) {
    const data = e.target !== undefined ? Buffer.from(e.target) : e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const head = Buffer.from(header(ino++, e.mode, data.length, name.length));
    parts.push(head, name, pad4(head.length + name.length), data, pad4(data.length));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

module.exports = { writeCpio };
