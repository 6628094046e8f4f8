'use strict';
// Installs Debian packages the packaging scripts need, so that they run on a fresh machine
// without a setup step. Only missing packages are installed; nothing runs when all are present.
const { spawnSync } = require('node:child_process');

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function apt(args) {
  const r = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v '${cmd}'`]).status === 0;
}

/** Ensures each package is installed; throws with the reason when apt-get cannot do it. When every
 *  one of `commands` is already on PATH, nothing is checked: the tools may come from elsewhere. */
function ensure(pkgs, commands = []) {
  if (commands.length && commands.every(onPath)) return;
  const missing = pkgs.filter((p) => !installed(p));
  if (!missing.length) return;
  if (spawnSync('which', ['apt-get']).status !== 0) {
    throw new Error(`missing packages ${missing.join(' ')} and no apt-get to install them`);
  }
  if (process.getuid && process.getuid() !== 0) {
    throw new Error(`missing packages ${missing.join(' ')}; install them as root: apt-get install ${missing.join(' ')}`);
  }
  console.log(`apt-get install ${missing.join(' ')}`);
  const args = ['install', '-y', '-q', '--no-install-recommends', ...missing];
  // The package lists may be absent (fresh container) or stale; refresh once only when needed.
  if (!apt(args) && !(apt(['update', '-q']) && apt(args))) {
    throw new Error(`apt-get could not install ${missing.join(' ')}`);
  }
}

module.exports = { ensure, installed };

if (require.main === module) {
  try {
    ensure(process.argv.slice(2));
  } catch (e) {
    console.error(`apt: ${e.message}`);
    process.exit(1);
  }
}
