/**
 * The statistics behind `loopix testnet --check-mixing` (src/mixing/stats.ts): the Kolmogorov survival
 * function and the two-sample KS p-value against values computed with scipy (kstwobign.sf, and ks_2samp's
 * statistic with Stephens' n_e correction), the Erlang survival function, and the Poisson-mixture chi-square
 * on seeded samples: right distributions pass (p > 1e-3), wrong ones fail (p < 1e-6).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/random.js';
import {
  chiSquarePoissonMixture,
  gammaHorizon,
  gammaSurvival,
  kolmogorovQ,
  ks1Sample,
  ks2Sample,
  KS_EXACT_MAX_N,
  poissonPmf,
} from '../src/mixing/stats.js';

describe('kolmogorovQ', () => {
  // scipy.stats.kstwobign.sf(λ) (scipy 1.17)
  const scipy: [number, number][] = [
    [0.3, 0.9999906941986655],
    [0.5, 0.9639452436648751],
    [0.8, 0.5441424115741981],
    [1.0, 0.26999967167735456],
    [1.17, 0.12939004218561884],
    [1.19, 0.11774229287977166],
    [1.36, 0.049485876755377876],
    [1.63, 0.009846364888486529],
    [2.0, 0.0006709252557796953],
    [3.0, 3.045995948942526e-8],
  ];
  it('matches scipy on both sides of the switch between the two series', () => {
    for (const [l, p] of scipy) expect(kolmogorovQ(l)).toBeCloseTo(p, 12);
    expect(kolmogorovQ(3) / 3.045995948942526e-8).toBeCloseTo(1, 10);
    expect(kolmogorovQ(0)).toBe(1);
  });
});

describe('ks2Sample', () => {
  it('gives scipy ks_2samp’s D and the Stephens-corrected asymptotic p on a fixed example', () => {
    const a = [
      0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28,
      2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47,
    ];
    const b = [
      2.2, 1.66, 1.38, 0.2, 0.36, 0, 0.96, 1.56, 0.44, 1.5, -0.3, 0.66, 2.31, 3.29, -0.27, -0.37, 0.38, 0.7, 0.52,
      -0.44,
    ];
    const r = ks2Sample(a, b);
    expect(r.statistic).toBeCloseTo(0.24, 12);
    // D = 0.24, n_e = 25·20/45; kstwobign.sf((√n_e + 0.12 + 0.11/√n_e)·D) in scipy:
    expect(r.pValue).toBeCloseTo(0.48571188496722967, 10);
  });

  it('handles ties: identical samples have D = 0, p = 1', () => {
    const r = ks2Sample([1, 1, 2, 3], [3, 2, 1, 1]);
    expect(r.statistic).toBe(0);
    expect(r.pValue).toBe(1);
  });

  it('passes two samples of one distribution and rejects a 30 % rate difference (seeded)', () => {
    const rng = new Rng(5);
    const draw = (n: number, rate: number) => Array.from({ length: n }, () => rng.exp(rate));
    expect(ks2Sample(draw(2000, 3), draw(2000, 3)).pValue).toBeGreaterThan(1e-3);
    expect(ks2Sample(draw(2000, 3), draw(2000, 3.9)).pValue).toBeLessThan(1e-6);
  });
});

describe('ks1Sample', () => {
  it('passes exponential and gamma samples and rejects wrong shapes and rates (seeded)', () => {
    const rng = new Rng(7);
    const exp = Array.from({ length: 3000 }, () => rng.exp(1));
    expect(ks1Sample(exp, { name: 'exponential', rate: 1 }).pValue).toBeGreaterThan(1e-3);
    expect(ks1Sample(exp, { name: 'exponential', rate: 1.2 }).pValue).toBeLessThan(1e-6);
    const gam = Array.from({ length: 1000 }, () => rng.exp(2) + rng.exp(2) + rng.exp(2));
    expect(ks1Sample(gam, { name: 'gamma', shape: 3, rate: 2 }).pValue).toBeGreaterThan(1e-3);
    expect(ks1Sample(gam, { name: 'gamma', shape: 4, rate: 2 }).pValue).toBeLessThan(1e-6);
  });

  it('uses the asymptotic p-value beyond KS_EXACT_MAX_N, close to the exact one just below it', () => {
    const rng = new Rng(11);
    const x = Array.from({ length: KS_EXACT_MAX_N + 1 }, () => rng.exp(1) * 1.02);
    const big = ks1Sample(x, { name: 'exponential', rate: 1 });
    const exact = ks1Sample(x.slice(0, KS_EXACT_MAX_N), { name: 'exponential', rate: 1 });
    expect(big.n).toBe(KS_EXACT_MAX_N + 1);
    expect(Math.abs(big.statistic - exact.statistic)).toBeLessThan(2e-3);
    expect(Math.abs(big.pValue - exact.pValue)).toBeLessThan(0.02 + 0.1 * exact.pValue);
  });
});

describe('gammaSurvival and gammaHorizon', () => {
  it('match scipy gamma.sf for integer shapes', () => {
    expect(gammaSurvival(3, 2, 2)).toBeCloseTo(0.23810330555354436, 14);
    expect(gammaSurvival(4, 3, 5)).toBeCloseTo(0.00021137850346676174, 16);
    expect(gammaSurvival(1, 2, 1)).toBeCloseTo(Math.exp(-2), 15);
    expect(gammaSurvival(3, 2, 0)).toBe(1);
  });
  it('finds the time after which a loop is back with the given probability', () => {
    const h = gammaHorizon(3, 2, 1e-6);
    expect(gammaSurvival(3, 2, h)).toBeLessThanOrEqual(1e-6);
    expect(gammaSurvival(3, 2, h - 0.01)).toBeGreaterThan(1e-6);
  });
});

describe('chiSquarePoissonMixture', () => {
  it('sums the pmf to 1 and agrees with a direct computation', () => {
    let s = 0;
    for (let k = 0; k < 60; k++) s += poissonPmf(k, 4.5);
    expect(s).toBeCloseTo(1, 12);
    expect(poissonPmf(3, 2)).toBeCloseTo((Math.exp(-2) * 8) / 6, 15);
  });

  it('passes Poisson counts from mixes with different means and rejects over-dispersed and shifted counts (seeded)', () => {
    const rng = new Rng(3);
    const means = Array.from({ length: 600 }, (_, i) => [3.1, 4.5, 6.2][i % 3]!);
    const good = means.map((m) => rng.poisson(m));
    const r = chiSquarePoissonMixture(good, means);
    expect(r.pValue).toBeGreaterThan(1e-3);
    expect(r.bins.every((b) => b.expected >= 5)).toBe(true);
    expect(r.bins.reduce((a, b) => a + b.observed, 0)).toBe(600);
    // Over-dispersed: the mean is right but the counts come in pairs (a batching mix).
    const paired = means.map((m) => 2 * rng.poisson(m / 2));
    expect(chiSquarePoissonMixture(paired, means).pValue).toBeLessThan(1e-6);
    // A pool 40 % fuller than λ/µ (packets held too long).
    const shifted = means.map((m) => rng.poisson(1.4 * m));
    expect(chiSquarePoissonMixture(shifted, means).pValue).toBeLessThan(1e-6);
  });
});
