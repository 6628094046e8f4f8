import { describe, expect, it } from 'vitest';
import { Exit, errorLine, exitCodeOf } from '../../src/cli/exit';
import { OperationError, StoreError } from '../../src/ops';

const refusedWith = (e: StoreError) =>
  new OperationError({ operation: 'divert', step: 'check cow', cause: e, state: { asBefore: true, devices: [], notes: [] }, completed: [] });

describe('a refused store', () => {
  it('carries the code of its kind', () => {
    expect(new StoreError('/dev/loop0', 'in-stack', 'x').code).toBe('EBUSY');
    expect(new StoreError('/dev/loop0', 'claimed', 'x').code).toBe('EBUSY');
    expect(new StoreError('/dev/loop0', 'mounted', 'x').code).toBe('EBUSY');
    expect(new StoreError('/dev/loop0', 'swap', 'x').code).toBe('EBUSY');
    expect(new StoreError('/dev/loop0', 'too-small', 'x').code).toBe('EINVAL');
    expect(new StoreError('/etc/passwd', 'not-block-device', 'x').code).toBe('EINVAL');
    expect(new StoreError('/dev/nope', 'missing', 'x').code).toBe('ENOENT');
  });

  it('exits 5 when in use, 2 for bad input, 4 when missing, bare or inside its OperationError', () => {
    const busy = new StoreError('/dev/loop0', 'in-stack', 'COW /dev/loop0 is under vol (vol -> loop0)');
    expect(exitCodeOf(busy)).toBe(Exit.BUSY);
    expect(exitCodeOf(refusedWith(busy))).toBe(Exit.BUSY);
    expect(refusedWith(busy).code).toBe('EBUSY');
    expect(exitCodeOf(refusedWith(new StoreError('/dev/loop1', 'too-small', 'x')))).toBe(Exit.USAGE);
    expect(exitCodeOf(refusedWith(new StoreError('/etc/passwd', 'not-block-device', 'x')))).toBe(Exit.USAGE);
    expect(exitCodeOf(refusedWith(new StoreError('/dev/nope', 'missing', 'x')))).toBe(Exit.NO_DEVICE);
    expect(errorLine(refusedWith(busy))).toBe('divert failed at step "check cow": COW /dev/loop0 is under vol (vol -> loop0); rolled back: every device is as before');
  });
});
