// watchCow's memory over 10,000 polls: a reaction added per poll to the long-lived armed wait
// (Promise.race) grew a watcher by about 100 MB a day. This is the JavaScript side alone, so it
// runs in the whole suite, not in the subset run on every kernel.
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as dm from '../../src/dm';
import * as ops from '../../src/ops';
import { useTestDevices } from '../helpers/devices';
import { testDir } from '../helpers/loop';
import { MiB, sleep } from '../helpers/ops';

const { twoSegmentDevice } = useTestDevices();

describe('COW watcher memory', () => {
  it('memory stays flat over 10,000 polls: a poll leaves nothing behind on the armed wait', async () => {
    const { name: v } = await twoSegmentDevice('polls', 16);
    await ops.divert(v, { cow: { file: path.join(testDir(), 'polls.cow'), size: '2M' } });
    v8.setFlagsFromString('--expose_gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let polls = 0;
    dm.setIoctlObserver((s) => {
      if (s.cmd === 'TABLE_STATUS' && s.name === v) polls++;
    });
    const ac = new AbortController();
    const w = ops.watchCow(v, { signal: ac.signal, intervalMs: 1 });
    const until = async (n: number): Promise<void> => {
      while (polls < n) await sleep(20);
    };
    try {
      await until(1000);
      gc();
      const before = process.memoryUsage().heapUsed;
      await until(11_000);
      gc();
      // A reaction per poll on the long-lived wait kept several hundred bytes each: megabytes here.
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(MiB);
    } finally {
      ac.abort();
      dm.setIoctlObserver();
    }
    await w.done;
    await ops.discard(v);
  }, 600_000);
});
