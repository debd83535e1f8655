/**
 * Small statistics for the benchmarks: the node's latency histograms (src/node/metrics.ts HistogramState)
 * summed over nodes and differenced between two reports, their percentiles and moments, and the Gamma
 * distribution that Loopix §5 (Fig. 10) fits to end-to-end latencies.
 */
import { gammaPdf as gammaPdfStdlib } from '../stats/stdlib.js';
import { bucketUpperMs, type HistogramState } from '../node/metrics.js';

export const EMPTY_HIST: HistogramState = { count: 0, sum: 0, sumsq: 0, buckets: [] };

/** Σ of several histograms. */
export function histSum(list: readonly (HistogramState | undefined)[]): HistogramState {
  const b = new Map<number, number>();
  let count = 0,
    sum = 0,
    sumsq = 0;
  for (const h of list) {
    if (!h) continue;
    count += h.count;
    sum += h.sum;
    sumsq += h.sumsq;
    for (const [i, c] of h.buckets) b.set(i, (b.get(i) ?? 0) + c);
  }
  return { count, sum, sumsq, buckets: [...b].sort((x, y) => x[0] - y[0]) };
}

/** later − earlier (what was recorded in between). */
export function histDiff(later: HistogramState | undefined, earlier: HistogramState | undefined): HistogramState {
  if (!later) return EMPTY_HIST;
  if (!earlier) return later;
  const b = new Map<number, number>(later.buckets.map(([i, c]) => [i, c]));
  for (const [i, c] of earlier.buckets) b.set(i, (b.get(i) ?? 0) - c);
  return {
    count: later.count - earlier.count,
    sum: later.sum - earlier.sum,
    sumsq: later.sumsq - earlier.sumsq,
    buckets: [...b].filter(([, c]) => c > 0).sort((x, y) => x[0] - y[0]),
  };
}

/** The q-quantile as a bucket upper bound (≤ 12 % high), ms. */
export function histPercentile(h: HistogramState, q: number): number {
  if (h.count <= 0) return 0;
  const want = Math.max(1, Math.ceil(q * h.count));
  let seen = 0;
  for (const [i, c] of h.buckets) {
    seen += c;
    if (seen >= want) return bucketUpperMs(i);
  }
  return bucketUpperMs(h.buckets.at(-1)?.[0] ?? 0);
}

export function histMean(h: HistogramState): number {
  return h.count > 0 ? h.sum / h.count : 0;
}

export function histSd(h: HistogramState): number {
  if (h.count < 2) return 0;
  const m = h.sum / h.count;
  return Math.sqrt(Math.max(0, (h.sumsq - h.count * m * m) / (h.count - 1)));
}

export const round = (v: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/** Summary of a histogram in ms: count, mean, sd, p50, p90, p99. */
export function histSummary(h: HistogramState): {
  count: number;
  mean: number;
  sd: number;
  p50: number;
  p90: number;
  p99: number;
} {
  return {
    count: h.count,
    mean: round(histMean(h)),
    sd: round(histSd(h)),
    p50: round(histPercentile(h, 0.5)),
    p90: round(histPercentile(h, 0.9)),
    p99: round(histPercentile(h, 0.99)),
  };
}

export interface GammaFit {
  /** k */
  readonly shape: number;
  /** θ (same unit as the data) */
  readonly scale: number;
  readonly mean: number;
  readonly sd: number;
}

/** Gamma(k, θ) fitted by the method of moments: k = mean² / var, θ = var / mean. */
export function fitGamma(mean: number, sd: number): GammaFit {
  const v = sd * sd;
  const shape = v > 0 ? (mean * mean) / v : Infinity;
  const scale = mean > 0 ? v / mean : 0;
  return { shape, scale, mean, sd };
}

/** The Gamma(k, θ) density at x (@stdlib, which takes the rate 1/θ). */
export function gammaPdf(x: number, shape: number, scale: number): number {
  if (x <= 0) return 0;
  return gammaPdfStdlib(x, shape, 1 / scale);
}
