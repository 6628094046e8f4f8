// CRC-32 (IEEE, as GPT and zlib use it). zlib.crc32 exists from Node 20.15 / 22.2; the package
// allows any Node 20, so older ones get the table-driven version below.
import zlib from 'node:zlib';

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let table: Uint32Array | undefined;

export function crc32Portable(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before). */
export function crc32(data: Uint8Array, value = 0): number {
  return typeof native === 'function' ? native(data, value) >>> 0 : crc32Portable(data, value);
}
