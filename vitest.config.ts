import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources directly; the native addon must have been built by `npm install`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
