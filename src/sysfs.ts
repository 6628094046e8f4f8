// Reading what the kernel publishes under /sys and /proc, where a file or directory may vanish
// between listing and reading (a device goes away): missing reads as undefined or empty.
import fs from 'node:fs';

/** A file's trimmed text, or undefined when it cannot be read. */
export function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A directory's entries, or none when it cannot be read. */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
