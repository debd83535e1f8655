import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources directly; the native addon must have been built by `npm install`, and
// test/global-setup.ts compiles dist/ for the tests that start real processes.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
