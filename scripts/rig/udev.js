'use strict';
// udev in the guest. This machine has the device-mapper rules (Debian's dmsetup package) but not
// udev itself, so Debian's `udev` package is fetched once (apt-get download, no install on the
// host) and copied into the guest's overlay at boot. Its udevadm is linked statically against
// systemd's shared code, so only libraries every Debian host has are needed.
// Unless DEVMAPPER_RIG_UDEV=0, systemd-udevd starts before the command, triggers and settles (as
// scripts/test.js reports it); with 0 the files are there but nothing runs
// (test/integration/udev.test.ts starts udevd itself).
const { unpackDeb } = require('./assets');

const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function udevWanted() {
  return process.env.DEVMAPPER_RIG_UDEV !== '0';
}

/** Shell lines for the start of cmd.sh (run as root inside the guest's chroot). */
function udevPrelude() {
  const pkg = unpackDeb('udev');
  const lines = [
    // udevadm refuses settle/trigger inside a chroot without it; the guest runs in one.
    'export SYSTEMD_IGNORE_CHROOT=1',
    `U=${quote(pkg)}`,
    'cp -a "$U/bin/udevadm" /usr/bin/udevadm',
    'mkdir -p /usr/lib/systemd /run/udev',
    'ln -sf /usr/bin/udevadm /usr/lib/systemd/systemd-udevd',
    // Merge (not replace) /usr/lib/udev: the host's dm rules must stay beside udev's own.
    'cp -a "$U/lib/udev/." /usr/lib/udev/',
  ];
  if (udevWanted()) {
    lines.push(
      '/usr/lib/systemd/systemd-udevd --daemon || { echo "[rig] systemd-udevd did not start"; exit 96; }',
      'udevadm trigger --type=subsystems --action=add && udevadm trigger --type=devices --action=add',
      'udevadm settle --timeout=120 || echo "[rig] udevadm settle timed out"',
    );
  }
  return lines;
}

module.exports = { udevPrelude, udevWanted };
