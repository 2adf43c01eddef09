import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The console's front end is bundled first: browser and HTTP tests serve the built files.
    globalSetup: ['test/support/build-console.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in parallel workers; each isolates itself by Redis prefix and Postgres schema.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
