// What holds block devices outside device-mapper: mounted filesystems (/proc/self/mountinfo) and
// active swap (/proc/swaps). Parsers are pure, the readers return nothing when /proc cannot be read.
import fs from 'node:fs';

export interface Mount {
  /** "major:minor" of the filesystem's device (0:N for filesystems without one). */
  dev: string;
  mountPoint: string;
  source: string;
}

export interface Swap {
  /** The swap area's path: a block device node or a file. */
  file: string;
  type: string;
}

/** The kernel writes space, tab, newline and backslash in paths as octal escapes (\040 ...). */
export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** proc(5): `id parent major:minor root mount-point options [optional...] - fstype source super-options`. */
export function parseMountInfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const l of text.split('\n')) {
    const f = l.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 7 || sep < 0 || !/^\d+:\d+$/.test(f[2])) continue;
    out.push({ dev: f[2], mountPoint: unescapeOctal(f[4]), source: unescapeOctal(f[sep + 2] ?? '') });
  }
  return out;
}

/** proc(5): a header line, then `Filename Type Size Used Priority`, separated by spaces or tabs. */
export function parseSwaps(text: string): Swap[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/[ \t]+/))
    .filter((f) => f.length >= 5 && f[0] !== '')
    .map((f) => ({ file: unescapeOctal(f[0]), type: f[1] }));
}

function readProc(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export const mounts = (): Mount[] => parseMountInfo(readProc('/proc/self/mountinfo'));
export const swaps = (): Swap[] => parseSwaps(readProc('/proc/swaps'));
