// migrate() and backup() refuse bad options before anything reaches the kernel (this host has no
// device-mapper: a call that got that far would fail differently).
import { describe, expect, it } from 'vitest';
import { backup } from '../../src/backup';
import { migrate } from '../../src/ops';

describe('migrate and backup options', () => {
  it('migrate: a bad name, a destination with abort, bad region sizes and waits are TypeError / RangeError', async () => {
    await expect(migrate('', { to: '/dev/x' })).rejects.toThrow(RangeError);
    await expect(migrate('v', { to: '/dev/x', abort: true })).rejects.toThrow(/abort takes no destination/);
    await expect(migrate('v', { to: '' })).rejects.toThrow(TypeError);
    await expect(migrate('v', { to: '/dev/x', regionSectors: 1000 })).rejects.toThrow(/power of two/);
    await expect(migrate('v', { to: '/dev/x', regionSectors: 4 })).rejects.toThrow(RangeError);
    await expect(migrate('v', { wait: 'no' as never })).rejects.toThrow(/wait must be a boolean/);
    await expect(migrate('v', { pollMs: 0 })).rejects.toThrow(/pollMs/);
    await expect(migrate('v', { onProgress: 1 as never })).rejects.toThrow(/onProgress/);
  });

  it('backup: no destination, a bad block size or checksum are TypeError / RangeError', async () => {
    await expect(backup('v', {} as never)).rejects.toThrow(/to must be a file or block device path/);
    await expect(backup('v', { to: '/x', blockSize: 1000 })).rejects.toThrow(/multiple of 4096/);
    await expect(backup('v', { to: '/x', blockSize: 128 * 1024 * 1024 })).rejects.toThrow(RangeError);
    await expect(backup('v', { to: '/x', checksum: 'md5' as never })).rejects.toThrow(/checksum must be 'crc32' or 'sha256'/);
    await expect(backup('v', { to: '/x', keepPartial: 1 as never })).rejects.toThrow(TypeError);
  });
});
