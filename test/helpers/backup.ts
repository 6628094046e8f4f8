// What a backup must leave behind when it ends, refused, failed or done: nothing of its own.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import * as dm from '../../src/dm';
import * as loop from '../../src/loop';
import * as ops from '../../src/ops';
import { condition } from './ops';

/** Nothing of a backup of `v` to `img` is left: no snapshot, no partial image or COW file, no
 *  record, no loop device on a COW file; `v` has the condition it had and is in `state`. */
export async function nothingLeft(v: string, img: string, was: ReturnType<typeof condition>, state: ops.Description['state'] = 'plain'): Promise<void> {
  expect(dm.infoOrNone(`${v}-backup`)).toBeUndefined();
  expect(fs.existsSync(`${img}.partial`)).toBe(false);
  expect(fs.existsSync(`${img}.cow`)).toBe(false);
  const records = path.join(process.env.DEVMAPPER_STATE_DIR!, 'backups');
  expect(fs.existsSync(records) ? fs.readdirSync(records).filter((f) => !f.startsWith('.')) : []).toEqual([]);
  expect((await loop.list()).filter((l) => l.file.endsWith('.cow'))).toEqual([]);
  expect(condition(v)).toEqual(was);
  expect((await ops.describe(v)).state).toBe(state);
}
