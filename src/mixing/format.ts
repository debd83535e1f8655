/** The `mixing` object of `loopix testnet --check-mixing` as a few readable lines (the non-JSON output). */
import { POOL_MEAN_TOLERANCE, type MixingSummary } from './analysis.js';

const f = (x: number | null, digits = 3) => (x === null ? '–' : x.toFixed(digits));
const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)} %`);
const p = (x: number | null) => (x === null ? 'p = –' : x < 1e-4 ? `p = ${x.toExponential(1)}` : `p = ${x.toFixed(4)}`);

export function formatMixing(m: MixingSummary): string {
  const ok = (good: boolean) => (good ? 'ok  ' : 'FAIL');
  const pass = (x: number | null) => ok(x !== null && x > m.alpha);
  const meanOk =
    m.pool_mean !== null &&
    m.pool_expected !== null &&
    Math.abs(m.pool_mean - m.pool_expected) <= POOL_MEAN_TOLERANCE * m.pool_expected;
  const c = m.client;
  const lines = [
    `mixing self-checks over ${f(m.window_s, 1)} s (µ = ${m.mu}/s; a check fails at p ≤ ${m.alpha}):`,
    `  ${ok(meanOk)} pool size mean ${f(m.pool_mean)} vs λ/µ = ${f(m.pool_expected)} (Lemma 1; within ${POOL_MEAN_TOLERANCE * 100} %)`,
    `  ${pass(m.pool_p)} pool size ~ Poisson(λ/µ): chi-square ${p(m.pool_p)} (${m.pool_chi2.samples} samples ≥ ${f(m.pool_chi2.thinning_s, 1)} s apart, df ${m.pool_chi2.df})`,
    `  ${pass(m.output_exp_p)} mix output gaps ~ Exp(λ): KS ${p(m.output_exp_p)} (${m.output_gaps} gaps; under ${m.output_tick_gaps.under_ms} ms: ${pct(m.output_tick_gaps.observed)} vs ${pct(m.output_tick_gaps.expected)} for Exp(λ), timer ticks)`,
    `  ${pass(m.latency_gamma_p)} loop latency ~ Gamma(${m.latency_hops}, µ): KS ${p(m.latency_gamma_p)}, mean ${f(m.latency_mean_s)} s vs ${f(m.latency_expected_s)} s (${m.latency_samples} loops)`,
    c
      ? `  ${pass(m.client_indist_p)} client idle vs busy send gaps: two-sample KS ${p(m.client_indist_p)} (${c.idle_gaps} / ${c.busy_gaps} gaps, ${f(c.idle_rate_per_s, 2)} / ${f(c.busy_rate_per_s, 2)} packets/s, model ${c.expected_rate_per_s})`
      : '  client check: not run',
    `  ${m.passed ? 'all checks passed' : `failed: ${m.failed.join(', ')}`}`,
  ];
  return `${lines.join('\n')}\n`;
}
