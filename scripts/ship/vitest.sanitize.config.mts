// The unit suite (vitest.unit.config.mts) against the ASan+UBSan addon from build-sanitize/.
// Run through scripts/ship/sanitized-unit.js, which preloads clang's ASan runtime and sets
// DEVMAPPER_ADDON. One forked worker: it inherits LD_PRELOAD, and a sanitizer abort shows up
// as that worker dying rather than being lost in a thread pool.
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import unit from '../../vitest.unit.config.mts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default mergeConfig(
  unit,
  defineConfig({
    root,
    test: {
      pool: 'forks',
      poolOptions: { forks: { singleFork: true } },
      setupFiles: [fileURLToPath(new URL('./sanitize-setup.ts', import.meta.url))],
      // ASan/UBSan make native calls several times slower; the property tests feel it.
      testTimeout: 120000,
      hookTimeout: 120000,
    },
  }),
);
