/**
 * Goodness-of-fit statistics for the live mixing self-checks (docs/anonymity.md "Live self-checks").
 *
 * One-sample Kolmogorov–Smirnov against a continuous distribution, the chi-square test, the Poisson pmf and
 * the regularized upper incomplete gamma function (the Gamma survival function) come from @stdlib (exact
 * Marsaglia–Tsang–Wang p-values for the KS test). What @stdlib lacks is written here:
 *  - the two-sample KS test, with the asymptotic Kolmogorov distribution and Stephens' correction of the
 *    effective sample size (Stephens 1970; Numerical Recipes §14.3.3) — scipy's `ks_2samp(mode='asymp')`;
 *  - a chi-square test of integer counts against a *mixture* of Poisson distributions (several mixes, each
 *    with its own mean λ_i/µ, pooled into one test: Loopix §3.3 Lemma 1);
 *  - the censoring horizon of the latency check (the smallest x, to 1 ms, whose Gamma tail is ≤ a bound).
 */
import { chi2gof, gammainc, kstest, poissonPmf as poissonPmfStdlib } from '../stats/stdlib.js';

export interface TestResult {
  readonly statistic: number;
  readonly pValue: number;
  readonly n: number;
}

/**
 * Q_KS(λ) = P(K > λ) for the Kolmogorov distribution K = sup |Brownian bridge|:
 * 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}. That alternating series converges slowly for small λ, where the
 * equivalent (Jacobi theta) form 1 − (√(2π)/λ) Σ_{j≥1} e^{−(2j−1)²π²/(8λ²)} converges fast instead.
 */
export function kolmogorovQ(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const c = (Math.PI * Math.PI) / (8 * lambda * lambda);
    let s = 0;
    for (let j = 1; j <= 50; j++) {
      const term = Math.exp(-(2 * j - 1) * (2 * j - 1) * c);
      s += term;
      if (term < 1e-17 * s) break;
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s));
  }
  let s = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    s += j % 2 === 1 ? term : -term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * s));
}

/** Stephens' finite-sample correction of the KS statistic's scale: (√n + 0.12 + 0.11/√n)·D. */
function stephens(n: number, d: number): number {
  const r = Math.sqrt(n);
  return (r + 0.12 + 0.11 / r) * d;
}

/**
 * Two-sample KS test (two-sided): D = sup |F_a − F_b| over the pooled values, p = Q_KS(λ) with
 * λ = (√n_e + 0.12 + 0.11/√n_e)·D and n_e = n_a·n_b/(n_a + n_b). Asymptotic: accurate to a few per cent of p
 * for n_e ≥ 4 (Numerical Recipes), which is what a check at α = 0.01 needs.
 */
export function ks2Sample(a: readonly number[], b: readonly number[]): TestResult {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n1 = x.length,
    n2 = y.length;
  if (n1 === 0 || n2 === 0) return { statistic: NaN, pValue: NaN, n: 0 };
  let i = 0,
    j = 0,
    d = 0;
  while (i < n1 && j < n2) {
    const v = Math.min(x[i]!, y[j]!);
    // Step past every copy of v in both samples before comparing: ties must not open a spurious gap.
    while (i < n1 && x[i]! === v) i++;
    while (j < n2 && y[j]! === v) j++;
    d = Math.max(d, Math.abs(i / n1 - j / n2));
  }
  const ne = (n1 * n2) / (n1 + n2);
  return { statistic: d, pValue: kolmogorovQ(stephens(ne, d)), n: n1 + n2 };
}

/** Above this many values the exact one-sample p-value costs seconds (O((nD)³ log n)); use the asymptotic one. */
export const KS_EXACT_MAX_N = 5000;

export type ContinuousDist =
  | { readonly name: 'exponential'; readonly rate: number }
  | { readonly name: 'gamma'; readonly shape: number; readonly rate: number };

function cdf(dist: ContinuousDist, x: number): number {
  if (x <= 0) return 0;
  if (dist.name === 'exponential') return 1 - Math.exp(-dist.rate * x);
  return 1 - gammaSurvival(dist.shape, dist.rate, x);
}

/**
 * One-sample KS test (two-sided) of `values` against `dist`. Up to KS_EXACT_MAX_N values: @stdlib's exact
 * p-value; beyond: the asymptotic one with Stephens' correction (the exact algorithm's matrix grows with
 * n·D, ≈ 1.5 s at n = 10⁴ on this host; the asymptotic form is within a fraction of a per cent there).
 */
export function ks1Sample(values: readonly number[], dist: ContinuousDist): TestResult {
  const n = values.length;
  if (n === 0) return { statistic: NaN, pValue: NaN, n: 0 };
  if (n <= KS_EXACT_MAX_N) {
    const x = Array.from(values);
    const r =
      dist.name === 'exponential' ? kstest(x, 'exponential', dist.rate) : kstest(x, 'gamma', dist.shape, dist.rate);
    return { statistic: r.statistic, pValue: clampP(r.pValue), n };
  }
  const x = Float64Array.from(values).sort();
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(dist, x[i]!);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return { statistic: d, pValue: kolmogorovQ(stephens(n, d)), n };
}

/** @stdlib returns 1 − P(D < d), which can come out a hair below 0 in floating point. */
function clampP(p: number): number {
  return Math.min(1, Math.max(0, p));
}

/** P(X = k) for X ~ Poisson(m) (@stdlib; m = 0 is the point mass at 0). */
export function poissonPmf(k: number, m: number): number {
  return poissonPmfStdlib(k, Math.max(0, m));
}

/**
 * P(X > x) for X ~ Gamma(shape, rate): the regularized upper incomplete gamma Q(shape, rate·x) (@stdlib),
 * computed directly rather than as 1 − cdf so that small tails keep their precision.
 */
export function gammaSurvival(shape: number, rate: number, x: number): number {
  if (x <= 0) return 1;
  if (!(shape > 0)) throw new RangeError(`gammaSurvival needs a shape > 0, got ${shape}`);
  return gammainc(rate * x, shape, true, true);
}

/** The smallest x (to 1 ms) with P(Gamma(shape, rate) > x) ≤ tail: how long to wait before a sample is complete. */
export function gammaHorizon(shape: number, rate: number, tail: number): number {
  let lo = 0,
    hi = shape / rate;
  while (gammaSurvival(shape, rate, hi) > tail) hi *= 2;
  while (hi - lo > 1e-3) {
    const mid = (lo + hi) / 2;
    if (gammaSurvival(shape, rate, mid) > tail) lo = mid;
    else hi = mid;
  }
  return hi;
}

export interface PoissonMixtureResult extends TestResult {
  readonly df: number;
  /** The merged bins: counts k in [lo, hi] (hi = null: and above), observed and expected numbers. */
  readonly bins: readonly {
    readonly lo: number;
    readonly hi: number | null;
    readonly observed: number;
    readonly expected: number;
  }[];
}

/** Smallest expected count per bin (the usual rule for the chi-square approximation). */
export const MIN_EXPECTED = 5;

/**
 * Chi-square goodness of fit of integer `values` where value j is hypothesised to be Poisson(means[j]): the
 * expected probability of count k is the average over j of Poisson(means[j]) pmf(k) — one test over several
 * mixes with different λ_i/µ. Bins are merged from both ends until every expected count is ≥ MIN_EXPECTED
 * (the upper tail bin is "k and above", so the probabilities sum to 1). ddof = 0: the means are measured
 * from the input rates, not fitted to these counts.
 */
export function chiSquarePoissonMixture(values: readonly number[], means: readonly number[]): PoissonMixtureResult {
  const n = values.length;
  if (n !== means.length) throw new RangeError('values and means must have the same length');
  if (n === 0) return { statistic: NaN, pValue: NaN, n: 0, df: 0, bins: [] };
  const maxObserved = values.reduce((a, b) => Math.max(a, b), 0);
  const maxMean = means.reduce((a, b) => Math.max(a, b), 0);
  // Enough bins that the tail beyond them is negligible for every mean, and every observed value has a bin.
  const K = Math.max(maxObserved, Math.ceil(maxMean + 10 * Math.sqrt(maxMean + 1) + 10));
  const prob = new Float64Array(K + 1);
  for (const m of means) {
    let cum = 0;
    for (let k = 0; k < K; k++) {
      const p = poissonPmf(k, m);
      prob[k]! += p / n;
      cum += p;
    }
    prob[K]! += Math.max(0, 1 - cum) / n; // K and above
  }
  const obs = new Float64Array(K + 1);
  for (const v of values) obs[Math.min(K, Math.max(0, Math.round(v)))]! += 1;
  // Merge: the lower bins upward, then the upper tail downward, until each expected count reaches the rule.
  type Bin = { lo: number; hi: number | null; p: number; o: number };
  let bins: Bin[] = [];
  for (let k = 0; k <= K; k++) bins.push({ lo: k, hi: k === K ? null : k, p: prob[k]!, o: obs[k]! });
  const merge = (a: Bin, b: Bin): Bin => ({
    lo: Math.min(a.lo, b.lo),
    hi: a.hi === null || b.hi === null ? null : Math.max(a.hi, b.hi),
    p: a.p + b.p,
    o: a.o + b.o,
  });
  while (bins.length > 1 && bins[0]!.p * n < MIN_EXPECTED) bins = [merge(bins[0]!, bins[1]!), ...bins.slice(2)];
  while (bins.length > 1 && bins[bins.length - 1]!.p * n < MIN_EXPECTED) {
    const last = bins.pop()!;
    bins[bins.length - 1] = merge(bins[bins.length - 1]!, last);
  }
  const outBins = bins.map((b) => ({ lo: b.lo, hi: b.hi, observed: b.o, expected: b.p * n }));
  if (bins.length < 2) return { statistic: 0, pValue: 1, n, df: 0, bins: outBins };
  const total = bins.reduce((a, b) => a + b.p, 0);
  const r = chi2gof(
    bins.map((b) => b.o),
    bins.map((b) => b.p / total),
    { ddof: 0 },
  );
  return { statistic: r.statistic, pValue: clampP(r.pValue), n, df: r.df ?? bins.length - 1, bins: outBins };
}
