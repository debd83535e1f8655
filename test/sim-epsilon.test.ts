/** `sim epsilon`: Loopix §4.3, likelihood difference ε of equation (3) in a stratified network. */
import { describe, expect, it } from 'vitest';
import {
  burnInMeanPool,
  epsilonParamsFor,
  PAPER_EPSILON,
  simulateEpsilon,
  type EpsilonParams,
} from '../src/sim/epsilon.js';
import { deriveSeed, Rng } from '../src/util/random.js';
import { summarize } from '../src/sim/stats.js';

const meanEpsilon = (p: EpsilonParams, reps: number, seed: number) =>
  summarize(
    Array.from({ length: reps }, (_, i) => simulateEpsilon(p, new Rng(deriveSeed(seed, i))).epsilon).filter(
      Number.isFinite,
    ),
  );

describe('sim epsilon', () => {
  it('draws the end of the burn-in with the pool sizes an explicit burn-in reaches', () => {
    const p = { ...PAPER_EPSILON, burnIn: 3, duration: 1e-3 }; // the challenge phase is not under test
    const reps = 150;
    const sums = [0, 0, 0];
    for (let i = 0; i < reps; i++)
      simulateEpsilon(p, new Rng(deriveSeed(7, i)), { explicitBurnIn: true }).poolAtStart.forEach(
        (n, l) => (sums[l]! += n),
      );
    sums.forEach((sum, layer) => {
      const expected = p.width * burnInMeanPool(p, layer);
      // Poisson counts: sd of the mean is √(expected/reps).
      expect(Math.abs(sum / reps - expected)).toBeLessThan(4 * Math.sqrt(expected / reps));
    });
    // After the paper's 2,500 time units every mix holds Lemma 1's λ/µ on average.
    expect(burnInMeanPool(PAPER_EPSILON, 2)).toBeCloseTo((98 * 2) / 3, 6);
  });

  it('decreases with more layers', () => {
    const two = meanEpsilon(epsilonParamsFor('layers', 2), 30, 1);
    const six = meanEpsilon(epsilonParamsFor('layers', 6), 30, 2);
    expect(two.mean).toBeGreaterThan(six.mean + 2 * Math.hypot(two.se, six.se));
  });

  it('decreases with larger λ/µ (longer delays)', () => {
    const fast = meanEpsilon(epsilonParamsFor('mu', 2), 30, 3);
    const slow = meanEpsilon(epsilonParamsFor('mu', 0.4), 30, 4);
    expect(fast.mean).toBeGreaterThan(slow.mean + 2 * Math.hypot(fast.se, slow.se));
  });

  it('increases when the other mixes are corrupt and pass their inputs through', () => {
    const honest = meanEpsilon(epsilonParamsFor('corrupt', 0), 30, 5);
    const corrupt = meanEpsilon(epsilonParamsFor('corrupt', 100), 30, 6);
    expect(corrupt.mean).toBeGreaterThan(honest.mean + 2 * Math.hypot(honest.se, corrupt.se));
  });

  it('is symmetric in the two challenge senders: both carry weight in the final pool', () => {
    const r = simulateEpsilon(PAPER_EPSILON, new Rng(9));
    expect(r.p0).toBeGreaterThan(0);
    expect(r.p1).toBeGreaterThan(0);
    expect(r.epsilon).toBeCloseTo(Math.abs(Math.log(r.p0 / r.p1)), 12);
  });
});
