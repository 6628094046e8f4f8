import { defineConfig } from 'vitest/config';
// Integration tests touch the one kernel: run files one after another.
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    testTimeout: 120000,
    hookTimeout: 120000,
    fileParallelism: false,
    pool: 'forks',
    // A failed test runs once more; one that passes only then is named in the run's summary
    // (test/flaky-reporter.ts), so that a flaky test is seen, and fixed, not hidden.
    retry: 1,
  },
});
