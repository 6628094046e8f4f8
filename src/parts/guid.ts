// GUIDs as GPT stores them: the first three groups little-endian, the last two as bytes.

export function guidAt(b: Buffer, o: number): string {
  const hex = (from: number, to: number): string => b.subarray(o + from, o + to).toString('hex');
  const le = (from: number, to: number): string => Buffer.from(b.subarray(o + from, o + to)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(8, 10)}-${hex(10, 16)}`;
}

export function isZeroGuid(b: Buffer, o: number): boolean {
  for (let i = 0; i < 16; i++) if (b[o + i] !== 0) return false;
  return true;
}
