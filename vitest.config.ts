import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources directly; the native addon must have been built by `npm install`, and
// test/global-setup.ts compiles dist/ for the tests that start real processes.
//
// Two projects: `fast` (everything that takes seconds) and `slow` (whole testnets, benchmarks and crash
// tests that run real processes for a minute or more). `npm test` runs both; a developer runs
// `npx vitest run --project fast` for the quick set.
const SLOW = [
  'test/bench-cli.test.ts',
  'test/bench-figures.test.ts',
  // Headless Chromium (two pages on the TypeScript Sphinx twin) beside five node processes: alone.
  'test/browser-chromium.test.ts',
  'test/client-messaging.test.ts',
  'test/directory-isolation.test.ts',
  'test/directory-network.test.ts',
  'test/hardening-provider.test.ts',
  'test/key-rotation.test.ts',
  // Two real nodes, side by side, each waiting out a key epoch (about 20 s), then heap snapshots and memory scans.
  'test/key-wipe.test.ts',
  // Sends at an exact rate across a key-epoch boundary: alone, not beside another test file.
  'test/node-replay-capacity.test.ts',
  // A whole post office network for six scenarios (each well under 30 s, about a minute together).
  'test/postoffice-faults.test.ts',
  'test/postoffice-network.test.ts',
  'test/postoffice-testnet.test.ts',
  'test/quickstart.test.ts',
  'test/ops-prometheus.test.ts',
  'test/testnet.test.ts',
  'test/testnet-mix-failure.test.ts',
  'test/testnet-mixing.test.ts',
  'test/testnet-netns.test.ts',
  // A whole sharded testnet (two workers per node): alone, like the other testnets.
  'test/testnet-sharded.test.ts',
];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      // The fast set first, two files at a time; then the slow set one file at a time, so a whole testnet
      // never shares the two cores with a benchmark or another testnet (its AQM would rightly drop packets
      // that a starved node cannot process within its 60 ms queueing bound).
      {
        extends: true,
        test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: SLOW, sequence: { groupOrder: 0 } },
      },
      // maxConcurrency: a slow file may mark tests that mostly wait (benchmark smoke runs, epoch waits) as
      // concurrent; at most two of them run at once.
      {
        extends: true,
        test: { name: 'slow', include: SLOW, maxWorkers: 1, maxConcurrency: 2, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
