/**
 * The one sample percentile: the value at rank ⌊p·n⌋ (0-based, clamped) of an ascending array — the
 * "lower nearest rank" estimator, which needs no interpolation and returns a value that occurred. Bucketed
 * histograms (src/node/metrics.ts) have their own, bucket-bound percentile.
 */
export function percentileOfSorted(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(p * sorted.length)))];
}
