/**
 * The gate's injected regression (src/node/bench-slowdown.ts): honoured only by a node the benchmark rig
 * started, and it removes the stated fraction of the work's throughput.
 */
import { describe, expect, it } from 'vitest';
import { BENCH_NODE_ENV, INJECT_SLOWDOWN_ENV, injectedSlowdown, stretch } from '../src/node/bench-slowdown.js';

describe('injected benchmark slowdown', () => {
  it('is off on any node the benchmark rig did not start, whatever the environment says', () => {
    expect(injectedSlowdown({ [INJECT_SLOWDOWN_ENV]: '0.3' })).toBe(0);
    expect(injectedSlowdown({ [INJECT_SLOWDOWN_ENV]: '0.3', [BENCH_NODE_ENV]: '0' })).toBe(0);
    expect(injectedSlowdown({ [INJECT_SLOWDOWN_ENV]: '0.3', [BENCH_NODE_ENV]: '1' })).toBe(0.3);
    for (const bad of ['', 'x', '0', '1', '-0.2', '2'])
      expect(injectedSlowdown({ [INJECT_SLOWDOWN_ENV]: bad, [BENCH_NODE_ENV]: '1' })).toBe(0);
  });

  it('stretches work of w ms to w / (1 − f) ms', () => {
    const t0 = performance.now();
    stretch(70, 0.3); // 70 ms of work at f = 0.3 → 30 ms more
    const extra = performance.now() - t0;
    expect(extra).toBeGreaterThanOrEqual(30);
    expect(extra).toBeLessThan(500);
  });
});
