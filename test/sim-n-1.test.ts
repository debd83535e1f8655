/** `sim n-1`: the stealthy (n−1) attack of Loopix §4.2.1. */
import { describe, expect, it } from 'vitest';
import { nMinus1Exact, nMinus1Formula, simulateNMinus1, type NMinus1Params } from '../src/sim/n-minus-1.js';
import { deriveSeed, Rng } from '../src/util/random.js';
import { summarize } from '../src/sim/stats.js';

const simulate = (p: NMinus1Params, reps: number, seed: number) => {
  const runs = Array.from({ length: reps }, (_, i) => simulateNMinus1(p, new Rng(deriveSeed(seed, i))));
  return { p: summarize(runs.map((r) => r.p)), loops: summarize(runs.map((r) => r.loopReturnRate)) };
};

describe('sim n-1', () => {
  it('matches the formula sµ/(sλM + λR) within a few standard errors while the pool is large', () => {
    for (const [s, lambdaM, seed] of [
      [2, 1, 1],
      [5, 10, 2],
      [20, 10, 3],
    ] as const) {
      const p = { lambdaR: 100, lambdaM, mu: 2, s, probes: 1000 };
      const sim = simulate(p, 10, seed);
      expect(Math.abs(sim.p.mean - nMinus1Formula(p)), `s=${s} λM=${lambdaM}`).toBeLessThan(4 * sim.p.se);
    }
  });

  it('lets loops return at exactly the alarm threshold r = λM/s', () => {
    const sim = simulate({ lambdaR: 100, lambdaM: 10, mu: 2, s: 4, probes: 1000 }, 10, 4);
    expect(Math.abs(sim.loops.mean - 10 / 4)).toBeLessThan(4 * sim.loops.se);
  });

  it('stays a probability where the formula exceeds 1 (pool of about one message), matching E[1/(N+1)]', () => {
    const p = { lambdaR: 100, lambdaM: 1, mu: 2, s: 1000, probes: 1000 };
    expect(nMinus1Formula(p)).toBeGreaterThan(1);
    const sim = simulate(p, 10, 5);
    expect(sim.p.mean).toBeLessThan(1);
    expect(Math.abs(sim.p.mean - nMinus1Exact(p))).toBeLessThan(4 * sim.p.se + 1e-3);
  });
});
