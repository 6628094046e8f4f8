'use strict';
// One way for the ship scripts to run a tool and fail with what it said.
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** spawnSync with text output; throws naming the command, its exit and its last lines on failure. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = `${r.stdout || ''}\n${r.stderr || ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${r.status ?? r.signal}\n${tail}`);
  }
  return r;
}

/** run(), returning the standard output. */
const sh = (cmd, args, opts) => run(cmd, args, opts).stdout;

module.exports = { run, sh };
