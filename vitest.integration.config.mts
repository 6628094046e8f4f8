import { defineConfig } from 'vitest/config';
// Integration tests touch the one kernel: run files one after another.
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    testTimeout: 120000,
    hookTimeout: 120000,
    fileParallelism: false,
    pool: 'forks',
  },
});
