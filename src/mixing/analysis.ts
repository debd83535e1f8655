/**
 * The live mixing self-checks of `loopix testnet --check-mixing` (docs/anonymity.md "Live self-checks"):
 * pure functions from the samples the real node processes and the probe client recorded to the summary's
 * `mixing` object. Each check compares a measurement with what the Loopix model (Piotrowska et al. 2017)
 * predicts for the parameters the network runs with:
 *
 *  - pool (§3.3 Lemma 1): a Poisson mix with Poisson input at rate λ and Exp(µ) delays holds Poisson(λ/µ)
 *    packets. Mean over every pool sample in the window against the mean of λ_i/µ (λ_i measured at mix i over
 *    the same window), and a chi-square of thinned samples against the mixture of the Poisson(λ_i/µ);
 *  - output: the departures of an M/M/∞ pool with Poisson input are a Poisson process, so the gaps between a
 *    mix's departures are Exp(λ_i): gaps × λ_i of every mix pooled, KS against Exp(1);
 *  - latency: a node's own loop crosses L nodes that each hold it Exp(µ) (src/node/loops.ts: the sender emits
 *    it to the first hop directly, and the last hop is the sender itself, with delay 0), so its round trip is
 *    Gamma(L, µ) plus processing and loopback time; KS against Gamma(L, rate µ);
 *  - client (§4.1.2 sender unobservability): a client's emissions are a Poisson process of rate
 *    λP + λL + λD whether or not it has real messages queued: the gaps between the probe client's packets
 *    while idle and while its send buffer is full, two-sample KS.
 *
 * All times are wall-clock milliseconds (performance.timeOrigin + performance.now() in each process).
 */
import { chiSquarePoissonMixture, gammaHorizon, ks1Sample, ks2Sample } from './stats.js';

/** What one node reported (all stats reports of the run concatenated). */
export interface NodeSamples {
  readonly name: string;
  readonly role: 'mix' | 'provider';
  readonly layer: number;
  /** [t, packets held in the delay stage], sampled at Poisson times. */
  readonly pool: readonly (readonly [number, number])[];
  /** Entries into the delay stage. */
  readonly enter: readonly number[];
  /** Forwarded packets leaving the pool. */
  readonly depart: readonly number[];
  /** [send time, round-trip ms] of the node's own loops that came back. */
  readonly loops: readonly (readonly [number, number])[];
  /** Samples the node could not keep (MixingProbe maxPerReport); > 0 makes the rates unreliable. */
  readonly overflow: number;
}

export interface ProbeClientSamples {
  /** Emission times of every packet of the probe client. */
  readonly sends: readonly number[];
  /** When its real messages were queued: idle before, busy after. */
  readonly switchMs: number;
  /** Packets queued at switchMs. */
  readonly backlogPackets: number;
  /** Fragments still in its send buffer when sending stopped (> 0: the buffer never ran dry). */
  readonly backlogLeft: number;
  /** λP + λL + λD, 1/s: the rate its emissions must have in both phases. */
  readonly expectedRatePerS: number;
}

export interface MixingInput {
  /** µ, 1/s. */
  readonly mu: number;
  /** Mix layers L: the delayed hops of every node's own loop. */
  readonly layers: number;
  /** The analysis window: warm-up end → the moment sending stopped. */
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  /** When the last reports were collected: loops sent later than this minus the horizon are left out. */
  readonly collectedAtMs: number;
  readonly nodes: readonly NodeSamples[];
  readonly client?: ProbeClientSamples;
  /** Minimum spacing of the pool samples in the chi-square, s (default 3/µ: correlation e^{-3} ≈ 0.05). */
  readonly thinningS?: number;
  /** Significance level of `passed` (default 0.01). */
  readonly alpha?: number;
}

export interface NodeMixingDetail {
  readonly role: 'mix' | 'provider';
  readonly layer: number;
  /** Entries into the delay stage per second over the window. */
  readonly lambda_in_per_s: number;
  /** Forwarded departures per second over the window. */
  readonly lambda_out_per_s: number;
  readonly pool_mean: number | null;
  readonly pool_expected: number;
  readonly pool_samples: number;
  readonly output_gaps: number;
  /** Per-node KS of this node's gaps × λ against Exp(1) (mixes; null with fewer than 20 gaps). */
  readonly output_exp_p: number | null;
  readonly loops: number;
  readonly latency_mean_s: number | null;
  readonly overflow: number;
}

export interface MixingSummary {
  readonly window_s: number;
  readonly mu: number;
  readonly alpha: number;
  readonly pool_mean: number | null;
  readonly pool_expected: number | null;
  readonly pool_p: number | null;
  readonly pool_chi2: {
    readonly statistic: number | null;
    readonly df: number;
    readonly samples: number;
    readonly thinning_s: number;
  };
  readonly output_exp_p: number | null;
  readonly output_ks_d: number | null;
  readonly output_gaps: number;
  /**
   * Timer quantisation, reported rather than tested: the delay stage runs on one ~1 ms timer, so packets due
   * within the same tick leave together, microseconds apart. Fraction of departure gaps under
   * TICK_GAP_MS, observed and as Exp(λ_i) would have it.
   */
  readonly output_tick_gaps: {
    readonly under_ms: number;
    readonly observed: number | null;
    readonly expected: number | null;
  };
  readonly latency_gamma_p: number | null;
  readonly latency_mean_s: number | null;
  readonly latency_expected_s: number;
  readonly latency_hops: number;
  readonly latency_samples: number;
  readonly client_indist_p: number | null;
  readonly client: {
    readonly idle_gaps: number;
    readonly busy_gaps: number;
    readonly idle_rate_per_s: number | null;
    readonly busy_rate_per_s: number | null;
    readonly expected_rate_per_s: number;
    readonly backlog_packets: number;
    readonly backlog_left: number;
  } | null;
  /** Every p-value above alpha and the pool mean within 10 % of λ/µ. */
  readonly passed: boolean;
  /** The checks that failed (empty when passed). */
  readonly failed: readonly string[];
  readonly per_node: Readonly<Record<string, NodeMixingDetail>>;
}

/** Pool mean and λ/µ must agree to this fraction (issue 5). */
export const POOL_MEAN_TOLERANCE = 0.1;
/** A latency sample is complete once Gamma(L, µ) has less than this probability left beyond it. */
export const LATENCY_CENSOR_TAIL = 1e-6;
/** Fewest gaps for a per-node output test. */
const MIN_NODE_GAPS = 20;
/** Departure gaps shorter than this count as "same timer tick" in output_tick_gaps, ms. */
export const TICK_GAP_MS = 0.1;

const r6 = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Number(x.toPrecision(6)));
const pOrNull = (p: number): number | null => (Number.isFinite(p) ? r6(p) : null);
const inWindow = (t: number, a: number, b: number) => t >= a && t <= b;
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Keeps samples at least `spacingMs` apart (the first of each run), so the kept counts are nearly independent. */
export function thin(
  samples: readonly (readonly [number, number])[],
  spacingMs: number,
): (readonly [number, number])[] {
  const sorted = [...samples].sort((a, b) => a[0] - b[0]);
  const kept: (readonly [number, number])[] = [];
  let last = -Infinity;
  for (const s of sorted) {
    if (s[0] - last >= spacingMs) {
      kept.push(s);
      last = s[0];
    }
  }
  return kept;
}

/** Gaps between consecutive times of a sorted list, where both ends lie in [a, b]. */
export function gapsWithin(times: readonly number[], a: number, b: number): number[] {
  const t = times.filter((x) => inWindow(x, a, b)).sort((x, y) => x - y);
  const gaps: number[] = [];
  for (let i = 1; i < t.length; i++) gaps.push(t[i]! - t[i - 1]!);
  return gaps;
}

export function analyzeMixing(input: MixingInput): MixingSummary {
  const { mu, layers, windowStartMs: w0, windowEndMs: w1 } = input;
  const alpha = input.alpha ?? 0.01;
  const windowS = (w1 - w0) / 1000;
  if (!(windowS > 0)) throw new RangeError(`analysis window must have positive length (got ${windowS} s)`);
  const thinningS = input.thinningS ?? 3 / mu;

  // ---- per node: rates, pool means, output gaps ----
  const perNode: Record<string, NodeMixingDetail> = {};
  const poolValues: number[] = [];
  const poolSampleMeans: number[] = [];
  const mixPoolMeans: number[] = [];
  const mixPoolExpected: number[] = [];
  const scaledGaps: number[] = [];
  let tickObserved = 0;
  let tickExpected = 0;
  const rtts: number[] = [];
  const horizonMs = gammaHorizon(layers, mu, LATENCY_CENSOR_TAIL) * 1000;
  const loopsUntil = Math.min(w1, input.collectedAtMs - horizonMs);

  for (const n of input.nodes) {
    const lambdaIn = n.enter.filter((t) => inWindow(t, w0, w1)).length / windowS;
    const departures = n.depart.filter((t) => inWindow(t, w0, w1)).length;
    const lambdaOut = departures / windowS;
    const expected = lambdaIn / mu;
    const samples = n.pool.filter((s) => inWindow(s[0], w0, w1));
    const poolMean = samples.length ? mean(samples.map((s) => s[1])) : NaN;
    let nodeP: number | null = null;
    const rawGaps = gapsWithin(n.depart, w0, w1);
    const gaps = rawGaps.map((g) => (g / 1000) * lambdaOut);
    if (n.role === 'mix') {
      if (samples.length > 0) {
        mixPoolMeans.push(poolMean);
        mixPoolExpected.push(expected);
      }
      for (const [, size] of thin(samples, thinningS * 1000)) {
        poolValues.push(size);
        poolSampleMeans.push(expected);
      }
      for (const g of gaps) scaledGaps.push(g);
      tickObserved += rawGaps.filter((g) => g < TICK_GAP_MS).length;
      tickExpected += rawGaps.length * -Math.expm1((-lambdaOut * TICK_GAP_MS) / 1000);
      if (gaps.length >= MIN_NODE_GAPS) nodeP = pOrNull(ks1Sample(gaps, { name: 'exponential', rate: 1 }).pValue);
    }
    const loops = n.loops.filter(([sent]) => inWindow(sent, w0, loopsUntil)).map(([, rtt]) => rtt / 1000);
    for (const r of loops) rtts.push(r);
    perNode[n.name] = {
      role: n.role,
      layer: n.layer,
      lambda_in_per_s: r6(lambdaIn)!,
      lambda_out_per_s: r6(lambdaOut)!,
      pool_mean: r6(poolMean),
      pool_expected: r6(expected)!,
      pool_samples: samples.length,
      output_gaps: n.role === 'mix' ? gaps.length : 0,
      output_exp_p: nodeP,
      loops: loops.length,
      latency_mean_s: r6(mean(loops)),
      overflow: n.overflow,
    };
  }

  // ---- pool: Lemma 1 ----
  const poolMean = mixPoolMeans.length ? mean(mixPoolMeans) : NaN;
  const poolExpected = mixPoolExpected.length ? mean(mixPoolExpected) : NaN;
  const chi = chiSquarePoissonMixture(poolValues, poolSampleMeans);

  // ---- output: Poisson departures ----
  const out = ks1Sample(scaledGaps, { name: 'exponential', rate: 1 });

  // ---- latency: Gamma(L, µ) ----
  const lat = ks1Sample(rtts, { name: 'gamma', shape: layers, rate: mu });

  // ---- client: idle vs busy emission gaps ----
  let clientP: number | null = null;
  let client: MixingSummary['client'] = null;
  if (input.client) {
    const c = input.client;
    const idle = gapsWithin(c.sends, w0, c.switchMs);
    const busy = gapsWithin(c.sends, c.switchMs, w1);
    const rate = (g: number[]) => (g.length ? r6(g.length / (g.reduce((a, b) => a + b, 0) / 1000)) : null);
    clientP = pOrNull(ks2Sample(idle, busy).pValue);
    client = {
      idle_gaps: idle.length,
      busy_gaps: busy.length,
      idle_rate_per_s: rate(idle),
      busy_rate_per_s: rate(busy),
      expected_rate_per_s: c.expectedRatePerS,
      backlog_packets: c.backlogPackets,
      backlog_left: c.backlogLeft,
    };
  }

  const summary = {
    window_s: r6(windowS)!,
    mu,
    alpha,
    pool_mean: r6(poolMean),
    pool_expected: r6(poolExpected),
    pool_p: pOrNull(chi.pValue),
    pool_chi2: { statistic: r6(chi.statistic), df: chi.df, samples: chi.n, thinning_s: r6(thinningS)! },
    output_exp_p: pOrNull(out.pValue),
    output_ks_d: r6(out.statistic),
    output_gaps: scaledGaps.length,
    output_tick_gaps: {
      under_ms: TICK_GAP_MS,
      observed: scaledGaps.length ? r6(tickObserved / scaledGaps.length) : null,
      expected: scaledGaps.length ? r6(tickExpected / scaledGaps.length) : null,
    },
    latency_gamma_p: pOrNull(lat.pValue),
    latency_mean_s: r6(mean(rtts)),
    latency_expected_s: r6(layers / mu)!,
    latency_hops: layers,
    latency_samples: rtts.length,
    client_indist_p: clientP,
    client,
  };
  const failed: string[] = [];
  const checkP = (name: string, p: number | null) => {
    if (p === null || !(p > alpha)) failed.push(name);
  };
  checkP('pool_p', summary.pool_p);
  checkP('output_exp_p', summary.output_exp_p);
  checkP('latency_gamma_p', summary.latency_gamma_p);
  if (input.client) checkP('client_indist_p', summary.client_indist_p);
  if (!(Math.abs(poolMean - poolExpected) <= POOL_MEAN_TOLERANCE * poolExpected)) failed.push('pool_mean');
  if (input.nodes.some((n) => n.overflow > 0)) failed.push('overflow');
  return { ...summary, passed: failed.length === 0, failed, per_node: perNode };
}
