// What the kernel publishes about loop devices under /sys/block/loopN.
import fs from 'node:fs/promises';

/** The attribute's trimmed text, or undefined when it does not exist (device unbound or gone). */
export async function readAttr(number: number, attr: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(`/sys/block/loop${number}/${attr}`, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function deviceNumbers(number: number): Promise<{ major: number; minor: number }> {
  const dev = await readAttr(number, 'dev');
  const m = dev?.match(/^(\d+):(\d+)$/);
  if (!m) throw new Error(`/sys/block/loop${number}/dev is missing or malformed: ${dev}`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Numbers of the loop devices that have a backing file. */
export async function boundNumbers(): Promise<number[]> {
  const names = await fs.readdir('/sys/block');
  const numbers = names.filter((n) => /^loop\d+$/.test(n)).map((n) => Number(n.slice(4)));
  const bound = await Promise.all(numbers.map(async (n) => ((await readAttr(n, 'loop/backing_file')) === undefined ? -1 : n)));
  return bound.filter((n) => n >= 0).sort((a, b) => a - b);
}
