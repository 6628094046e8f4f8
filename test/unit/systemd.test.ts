// The shipped systemd units pass `systemd-analyze verify`: it parses, its ordering resolves, and
// the program it starts exists. A warning (a value systemd ignores) fails the test too.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const unit = (name: string): string => path.join(__dirname, '..', '..', 'systemd', name);

function verify(file: string): string {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  expect(r.error, 'systemd-analyze is needed for this test (Debian package systemd)').toBeUndefined();
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  return fs.readFileSync(file, 'utf8');
}

describe('systemd units', () => {
  it('devmapper-recover.service verifies cleanly and runs dmctl recover before local filesystems', () => {
    const text = verify(unit('devmapper-recover.service'));
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/env dmctl recover$/m);
    expect(text).toMatch(/^Before=local-fs\.target/m);
    expect(text).toMatch(/^DefaultDependencies=no$/m);
  });

  it('devmapper-monitor.service verifies cleanly and runs dmctl monitor --grow after recovery', () => {
    const text = verify(unit('devmapper-monitor.service'));
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/env dmctl monitor --grow$/m);
    expect(text).toMatch(/^After=devmapper-recover\.service$/m);
    expect(text).toMatch(/^Restart=on-failure$/m);
  });
});
