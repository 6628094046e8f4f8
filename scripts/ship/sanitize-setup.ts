// Setup for vitest.sanitize.config.mts: the run is only worth something if the addon in this
// process is the sanitized one, so check that before any test runs.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../../src/native';

const want = process.env.DEVMAPPER_ADDON;
if (!want) throw new Error('sanitized unit run without DEVMAPPER_ADDON: use scripts/ship/sanitized-unit.js');
if (typeof native.dmDecode !== 'function') throw new Error('the loaded addon has no dmDecode');
const maps = fs.readFileSync('/proc/self/maps', 'utf8');
const real = fs.realpathSync(path.resolve(want));
if (!maps.includes(real)) throw new Error(`the sanitized addon ${real} is not mapped into this process`);
if (/\/build\/Release\/devmapper\.node$/m.test(maps)) throw new Error('the node-gyp addon (build/Release) is loaded too');
if (!/libclang_rt\.asan-[^/\s]*\.so$/m.test(maps)) throw new Error("clang's ASan runtime is not loaded (LD_PRELOAD)");
