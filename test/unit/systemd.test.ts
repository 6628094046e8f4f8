// The shipped systemd unit passes `systemd-analyze verify`: it parses, its ordering resolves, and
// the program it starts exists. A warning (a value systemd ignores) fails the test too.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const UNIT = path.join(__dirname, '..', '..', 'systemd', 'devmapper-recover.service');

describe('systemd unit', () => {
  it('devmapper-recover.service verifies cleanly and runs dmctl recover before local filesystems', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    expect(r.error, 'systemd-analyze is needed for this test (Debian package systemd)').toBeUndefined();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const text = fs.readFileSync(UNIT, 'utf8');
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/env dmctl recover$/m);
    expect(text).toMatch(/^Before=local-fs\.target/m);
    expect(text).toMatch(/^DefaultDependencies=no$/m);
  });
});
