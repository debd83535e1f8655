/**
 * The @stdlib start-up bundle (src/stats/stdlib.ts): the processes load the six functions from one file, and
 * the bundled code answers exactly as the packages do.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as stdlib from '../src/stats/stdlib.js';

const packages = createRequire(import.meta.url);

describe('@stdlib start-up bundle', () => {
  it('is what the functions are loaded from (built by npm install and by the test set-up)', () => {
    expect(stdlib.stdlibBundled).toBe(true);
  });

  it('answers exactly as the packages do', () => {
    const direct = {
      binomialCdf: packages('@stdlib/stats-base-dists-binomial-cdf'),
      chi2gof: packages('@stdlib/stats-chi2gof'),
      gammaPdf: packages('@stdlib/stats-base-dists-gamma-pdf'),
      gammainc: packages('@stdlib/math-base-special-gammainc'),
      kstest: packages('@stdlib/stats-kstest'),
      poissonPmf: packages('@stdlib/stats-base-dists-poisson-pmf'),
    } as typeof stdlib;
    for (const [k, n, p] of [
      [3, 40, 0.2],
      [37, 40, 0.95],
      [0, 1000, 0.001],
    ] as const)
      expect(stdlib.binomialCdf(k, n, p)).toBe(direct.binomialCdf(k, n, p));
    for (const [x, a, b] of [
      [0.5, 2, 3],
      [7, 9, 1.5],
    ] as const) {
      expect(stdlib.gammaPdf(x, a, b)).toBe(direct.gammaPdf(x, a, b));
      expect(stdlib.gammainc(x, a, true, true)).toBe(direct.gammainc(x, a, true, true));
    }
    for (const [k, m] of [
      [0, 0.5],
      [12, 9.5],
    ] as const)
      expect(stdlib.poissonPmf(k, m)).toBe(direct.poissonPmf(k, m));
    const sample = Array.from({ length: 200 }, (_, i) => -Math.log(1 - (i + 0.5) / 200) / 3);
    expect(stdlib.kstest(sample, 'exponential', 2.7).pValue).toBe(direct.kstest(sample, 'exponential', 2.7).pValue);
    const counts = [18, 31, 27, 24];
    const probs = [0.2, 0.3, 0.3, 0.2];
    expect(stdlib.chi2gof(counts, probs).pValue).toBe(direct.chi2gof(counts, probs).pValue);
  });
});
