import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores in CI: process tests spawn their own children, so keep file parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
