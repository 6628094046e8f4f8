// The live operations of the built library that a test's child process runs by name, each as
// (args, options) => Promise (ops-kill-child.cjs, ops-locked-child.cjs).
'use strict';
const path = require('node:path');

const dist = path.join(__dirname, '..', '..', 'dist');
const ops = require(path.join(dist, 'ops'));
const { backup } = require(path.join(dist, 'backup'));

const runs = {
  divert: (a, o) => ops.divert(a[0], o),
  merge: (a, o) => ops.merge(a[0], o),
  discard: (a, o) => ops.discard(a[0], o),
  snapshot: (a, o) => ops.createSnapshot(a[0], a[1], o),
  'remove-snapshot': (a, o) => ops.removeSnapshot(a[0], o),
  rollback: (a, o) => ops.rollback(a[0], o),
  'grow-cow': (a, o) => ops.growCow(a[0], a[1], o),
  migrate: (a, o) => ops.migrate(a[0], o),
  backup: (a, o) => backup(a[0], o),
};

module.exports = { ops, runs };
