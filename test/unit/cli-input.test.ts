// dmctl refuses bad input before it talks to any kernel: these run the built CLI on any machine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const DMCTL = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

function dmctl(args: string[], input = '') {
  const r = spawnSync(process.execPath, [DMCTL, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!fs.existsSync(DMCTL)) throw new Error('build first: npx tsc -p tsconfig.json');
});

describe('dmctl --help', () => {
  it('lists every verb and the exit codes', () => {
    const r = dmctl(['--help']);
    expect(r.code).toBe(0);
    for (const verb of ['version', 'targets', 'ls', 'info', 'create', 'remove', 'remove_all', 'rename', 'suspend', 'resume',
      'load', 'reload', 'clear', 'table', 'status', 'deps', 'wait', 'message', 'mknodes', 'setgeometry', 'loop', 'replace',
      'divert', 'merge', 'discard', 'snapshot', 'describe', 'recover', 'monitor', 'grow-cow', 'parts']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${verb} `, 'm'));
    }
    expect(r.stdout).toContain('Exit codes:');
    expect(dmctl(['loop', '--help']).stdout).toMatch(/attach[^]*detach[^]*ls/);
  });
});

describe('bad input: one line on stderr, a documented exit code, nothing on stdout', () => {
  const cases: Array<[string, string[], number, RegExp, string?]> = [
    ['unknown verb', ['frobnicate'], 2, /^dmctl: unknown command 'frobnicate'/],
    ['unknown option', ['ls', '--bogus'], 2, /^dmctl: unknown option '--bogus'/],
    ['missing argument', ['create'], 2, /^dmctl: missing required argument 'name'/],
    ['bad size', ['loop', 'attach', '/tmp/x.img', '--size', '12Q'], 2, /^dmctl: --size: not a size: "12Q"/],
    ['bad number', ['wait', 'x', 'abc'], 2, /^dmctl: event_nr must be a non-negative integer/],
    ['bad device name', ['create', 'a/b', '--table', '0 8 zero'], 2, /^dmctl: device name must not contain '\/'/],
    ['malformed table line', ['create', 'x', '--table', '0 8 linear'], 3, /^dmctl: line 1: linear: /],
    ['table with a gap', ['create', 'x'], 3, /^dmctl: line 2: zero: starts at sector 16/, '0 8 zero\n16 8 zero\n'],
    ['empty table', ['create', 'x'], 3, /^dmctl: the table has no targets/, '# nothing\n'],
    ['unreadable table file', ['create', 'x', '--table-file', '/nonexistent/t'], 2, /^dmctl: cannot read the table file/],
    ['two table sources', ['create', 'x', '--table', '0 8 zero', '--table-file', '/t'], 2, /^dmctl: give the table one way/],
    ['rename without a target', ['rename', 'x'], 2, /^dmctl: rename takes a new name, or --setuuid/],
  ];
  for (const [what, args, code, re, input] of cases) {
    it(`${what} exits ${code}`, () => {
      const r = dmctl(args, input);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  it('a kernel without device-mapper exits 9 with a hint; with one, version works', () => {
    const { hostHasDeviceMapper } = require('../../scripts/kernel-check');
    const r = dmctl(['version']);
    if (fs.existsSync('/dev/mapper/control') && hostHasDeviceMapper().ok) {
      expect(r.code, r.stderr).toBe(0);
    } else if (fs.existsSync('/dev/mapper/control') && !/no device-mapper/.test(r.stderr)) {
      expect(r.code, r.stderr).toBe(8); // not root
    } else {
      expect(r.code, r.stderr).toBe(9);
      expect(r.stderr).toMatch(/^dmctl: VERSION failed: \w+: .*no device-mapper, or it is not loaded: try 'modprobe dm-mod'\)\n$/);
    }
  });

  it('--debug adds the stack', () => {
    const r = dmctl(['--debug', 'create', 'x', '--table', '0 8 linear']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^dmctl: line 1: linear: [^\n]*\nTableError: [^]*\n    at /);
  });

  it('a malformed table leaves no device and sends nothing (stdin is read before create)', () => {
    const file = path.join(os.tmpdir(), `dmctl-unit-${process.pid}.table`);
    fs.writeFileSync(file, '0 8 zero\n0 8 zero\n');
    try {
      const r = dmctl(['load', 'x', file]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/line 2: zero: starts at sector 0, inside the previous target/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
