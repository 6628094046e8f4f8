/**
 * LVM2's checksum (lib/misc/crc.c): the reflected CRC-32 polynomial 0xedb88320 as zlib uses it,
 * but seeded with 0xf597a6cf and with no inversion on the way in or out, so zlib's crc32 gives a
 * different number for the same bytes.
 */
export const INITIAL_CRC = 0xf597a6cf;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Continue a CRC over `bytes`; LVM2 chains calls this way over a wrapped metadata text. */
export function lvmCrc(bytes: Uint8Array, initial: number = INITIAL_CRC): number {
  let crc = initial >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}
