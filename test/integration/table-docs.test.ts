// The examples in docs/tables.md, run as written (only the 'devmapper' import is pointed at the
// sources), and their printed output checked against the comments in the example.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';

const DOC = path.resolve(__dirname, '../../docs/tables.md');
const ENTRY = path.resolve(__dirname, '../../src/index.ts');
const DM_ENTRY = path.resolve(__dirname, '../../src/api/dm.ts');
const blocks = [...fs.readFileSync(DOC, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const written: string[] = [];

/** The example as a module: its imports on top, the rest in an async function. */
function asModule(code: string, i: number): string {
  const lines = code.split('\n');
  const imports = lines.filter((l) => l.startsWith('import ')).map((l) => l.replace(`'devmapper/dm'`, JSON.stringify(DM_ENTRY)).replace(`'devmapper'`, JSON.stringify(ENTRY)));
  const body = lines.filter((l) => !l.startsWith('import '));
  const file = path.join(__dirname, `.docs-example-${process.pid}-${i}.ts`);
  fs.writeFileSync(file, `${imports.join('\n')}\nexport default async function run(): Promise<void> {\n${body.join('\n')}\n}\n`);
  written.push(file);
  return file;
}

async function run(i: number): Promise<string[]> {
  const file = asModule(blocks[i], i);
  const logs: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a.join(' ')));
  try {
    await ((await import(file)) as { default: () => Promise<void> }).default();
  } finally {
    vi.restoreAllMocks();
  }
  return logs;
}

/** Removes what an example that failed half-way left behind. */
async function cleanUp(names: string[], files: string[]): Promise<void> {
  for (const n of names) if (dm.listDevicesSync().some((d) => d.name === n)) await dm.remove(n);
  for (const f of files) {
    for (const d of await loop.findByBackingFile(f)) await loop.detach(d.path);
    fs.rmSync(f, { force: true });
  }
}

afterEach(() => {
  while (written.length) fs.rmSync(written.pop()!, { force: true });
});

describe('docs/tables.md', () => {
  it('has two TypeScript examples of 10 to 20 lines', () => {
    expect(blocks).toHaveLength(2);
    for (const b of blocks) expect(b.trimEnd().split('\n').length).toBeGreaterThanOrEqual(10);
    for (const b of blocks) expect(b.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
  });

  it('the typed-table example loads, reads back and prints the table with major:minor and with paths', async () => {
    try {
      const logs = await run(0);
      expect(logs).toHaveLength(2);
      const m = /^0 32768 linear (\d+:\d+) 0\n32768 8192 zero \n$/.exec(logs[0]);
      expect(m, logs[0]).not.toBeNull();
      const [major, minor] = m![1].split(':').map(Number);
      expect(logs[1]).toBe(`0 32768 linear /dev/loop${minor} 0\n32768 8192 zero \n`);
      expect(major).toBe(7);
    } finally {
      await cleanUp(['tables-example'], ['/tmp/tables-example.img']);
    }
  });

  it('the status example prints how full the snapshot COW store is', async () => {
    try {
      expect(await run(1)).toEqual(['COW store 0.1953% full']);
    } finally {
      await cleanUp(['status-example'], ['/tmp/status-origin.img', '/tmp/status-cow.img']);
    }
  });
});
