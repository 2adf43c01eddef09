import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in parallel workers; each isolates itself by Redis prefix and Postgres schema.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
