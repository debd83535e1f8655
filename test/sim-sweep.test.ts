/** The sweep runner: worker threads (compiled dist/ worker) give the same numbers as inline runs. */
import { describe, expect, it } from 'vitest';
import { entropySweep } from '../src/sim/entropy-sweep.js';
import { simWorkerFile } from '../src/sim/sweep.js';

describe('sim sweeps', () => {
  it('give identical points on two worker threads and inline for the same seed', async () => {
    expect(simWorkerFile(), 'dist/src/sim/worker.js (compiled by test/global-setup.ts)').toBeDefined();
    const o = { lambdas: [100, 200], mus: [20], runs: 12, seed: 42 };
    const inline = await entropySweep({ ...o, workers: 1 });
    const threaded = await entropySweep({ ...o, workers: 2 });
    expect(threaded).toEqual(inline);
  });
});
