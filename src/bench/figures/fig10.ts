/**
 * Loopix Fig. 10 on this implementation: the end-to-end latency histogram when every hop adds an Exp(µ)
 * delay with µ = 2/s, and the Gamma distribution fitted to it (Loopix §5: "measured through timing mix node
 * loops"; 500 clients at λP = λL = λD = 60/min, λM = 60/min).
 *
 * The samples are the round trips of the nodes' own loops (mixes and providers alike: three delayed hops
 * each — a mix loop from layer j crosses the two other mix layers and a provider before it returns to its
 * sender, a provider loop crosses the three mix layers; the last hop is the sender itself and adds no delay,
 * src/node/loops.ts). The sum of `hops` independent Exp(µ) delays is Gamma(hops, 1/µ): mean hops/µ, standard
 * deviation √hops/µ — the theory the fit is compared with. The nodes' loop-RTT histograms carry exact sums
 * of x and x², so the mean and standard deviation are exact; the Gamma is fitted by the method of moments
 * (k = mean²/var, θ = var/mean). The histogram itself has ~12 %-wide log-spaced buckets, re-binned to
 * 0.25 s for the plot.
 */
import type { TopLevelSpec } from '../../plot/svg.js';
import { bucketUpperMs } from '../../node/metrics.js';
import type { HistogramState } from '../../node/metrics.js';
import { baseline, machineInfo, writeResults, type MachineInfo } from '../env.js';
import { fitGamma, gammaPdf, histDiff, histMean, histSd, histSum, round } from '../stats.js';
import { clientsSentPerS, runTestnetLoad, type TestbedFigureOptions } from './testnet.js';

export interface Fig10Options extends TestbedFigureOptions {
  readonly clients: number;
}

export const FIG10_DEFAULTS = {
  clients: 500,
  warmupS: 10,
  measureS: 180,
  pullIntervalMs: 5000,
} as const;

/** Delayed hops of a node loop in a 3-layer network (see the module comment). */
export const LOOP_DELAYED_HOPS = 3;
const MU = 2;
const BIN_S = 0.25;

export interface Fig10Result {
  readonly figure: 'Loopix Fig. 10';
  readonly samples: number;
  readonly measured: { readonly mean_s: number; readonly sd_s: number };
  readonly gamma_fit: {
    readonly shape: number;
    readonly scale_s: number;
    readonly mean_s: number;
    readonly sd_s: number;
  };
  readonly theory: { readonly hops: number; readonly mu_per_s: number; readonly mean_s: number; readonly sd_s: number };
  readonly paper: { readonly mean_s: 1.93; readonly sd_s: 0.87 };
  /** Density per second in BIN_S bins (the plotted histogram). */
  readonly histogram: readonly { readonly from_s: number; readonly to_s: number; readonly density: number }[];
  readonly clients: number;
  readonly clients_connected: number;
  readonly clients_sent_per_s: number;
  readonly rates_per_min: {
    readonly lambdaP: number;
    readonly lambdaL: number;
    readonly lambdaD: number;
    readonly lambdaM: number;
  };
  readonly dropped: Record<string, number>;
  readonly measure_s: number;
  readonly pull_interval_ms: number;
  readonly openssl_x25519_per_s: number | null;
  readonly machine: MachineInfo;
  readonly finished_at: string;
}

/** Spreads each log bucket's count uniformly over its width and re-bins onto [0, max) in `bin`-second bins. */
export function rebin(h: HistogramState, bin: number): { from_s: number; to_s: number; density: number }[] {
  const counts: number[] = [];
  for (const [i, c] of h.buckets) {
    const hi = bucketUpperMs(i) / 1000;
    const lo = i === 0 ? 0 : bucketUpperMs(i - 1) / 1000;
    const width = hi - lo;
    for (let b = Math.floor(lo / bin); b * bin < hi; b++) {
      const overlap = Math.min(hi, (b + 1) * bin) - Math.max(lo, b * bin);
      if (overlap <= 0) continue;
      counts[b] = (counts[b] ?? 0) + (width > 0 ? (c * overlap) / width : c);
    }
  }
  const n = h.count || 1;
  return Array.from({ length: counts.length }, (_, b) => ({
    from_s: round(b * bin, 3),
    to_s: round((b + 1) * bin, 3),
    density: round((counts[b] ?? 0) / n / bin, 4),
  }));
}

export async function runFig10(o: Fig10Options): Promise<Fig10Result> {
  const base = baseline(o.opensslSeconds, o.log);
  o.log(`fig10: ${o.clients} clients at λP = λL = λD = λM = 60/min, per-hop delays Exp(µ = ${MU}/s), ${o.measureS} s`);
  const r = await runTestnetLoad({
    params: { lambdaP: 1, lambdaL: 1, lambdaD: 1, lambdaM: 1, mu: MU, pullIntervalMs: o.pullIntervalMs },
    clients: o.clients,
    messagesPerClientPerS: 0.9,
    warmupS: o.warmupS,
    measureS: o.measureS,
    log: o.log,
  });
  const h = histSum(r.nodes.map((x) => histDiff(x.after.loop_rtt.hist, x.before.loop_rtt.hist)));
  const mean = histMean(h) / 1000;
  const sd = histSd(h) / 1000;
  const fit = fitGamma(mean, sd);
  const dropped: Record<string, number> = {};
  for (const x of r.nodes)
    for (const [why, c] of Object.entries(x.after.dropped)) {
      const d = c - (x.before.dropped[why] ?? 0);
      if (d > 0) dropped[why] = (dropped[why] ?? 0) + d;
    }
  o.log(
    `fig10: ${h.count} loops: mean ${mean.toFixed(3)} s, sd ${sd.toFixed(3)} s; Gamma fit k = ${fit.shape.toFixed(2)}, θ = ${fit.scale.toFixed(3)} s; theory ${LOOP_DELAYED_HOPS / MU} s, ${(Math.sqrt(LOOP_DELAYED_HOPS) / MU).toFixed(3)} s`,
  );
  return {
    figure: 'Loopix Fig. 10',
    samples: h.count,
    measured: { mean_s: round(mean), sd_s: round(sd) },
    gamma_fit: { shape: round(fit.shape), scale_s: round(fit.scale), mean_s: round(fit.mean), sd_s: round(fit.sd) },
    theory: {
      hops: LOOP_DELAYED_HOPS,
      mu_per_s: MU,
      mean_s: round(LOOP_DELAYED_HOPS / MU),
      sd_s: round(Math.sqrt(LOOP_DELAYED_HOPS) / MU),
    },
    paper: { mean_s: 1.93, sd_s: 0.87 },
    histogram: rebin(h, BIN_S),
    clients: o.clients,
    clients_connected: r.connected,
    clients_sent_per_s: round(clientsSentPerS(r), 1),
    rates_per_min: { lambdaP: 60, lambdaL: 60, lambdaD: 60, lambdaM: 60 },
    dropped,
    measure_s: o.measureS,
    pull_interval_ms: o.pullIntervalMs,
    openssl_x25519_per_s: base.x25519PerS,
    machine: machineInfo(base.version),
    finished_at: new Date().toISOString(),
  };
}

export function fig10Plot(r: Fig10Result): TopLevelSpec {
  const xMax = Math.max(7, ...r.histogram.filter((b) => b.density > 0).map((b) => b.to_s));
  const curve: Record<string, unknown>[] = [];
  for (let x = 0.02; x <= xMax; x += 0.02) {
    curve.push({
      x: round(x, 2),
      y: gammaPdf(x, r.gamma_fit.shape, r.gamma_fit.scale_s),
      s: `Gamma fit (mean ${r.gamma_fit.mean_s} s, sd ${r.gamma_fit.sd_s} s)`,
    });
    curve.push({
      x: round(x, 2),
      y: gammaPdf(x, r.theory.hops, 1 / r.theory.mu_per_s),
      s: `theory Gamma(${r.theory.hops}, 1/µ) (mean ${r.theory.mean_s} s, sd ${r.theory.sd_s} s)`,
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Fig. 10 (this implementation): loop latency, per-hop delays Exp(µ = ${r.theory.mu_per_s}/s), ${r.samples} loops, ${r.clients} clients`,
    width: 520,
    height: 320,
    background: 'white',
    layer: [
      {
        data: { values: r.histogram.map((b) => ({ ...b })) },
        mark: { type: 'rect', opacity: 0.55, color: '#4c78a8' },
        encoding: {
          x: { field: 'from_s', type: 'quantitative', title: 'latency (s)', scale: { domain: [0, xMax] } },
          x2: { field: 'to_s' },
          y: { field: 'density', type: 'quantitative', title: 'density (1/s)' },
        },
      },
      {
        data: { values: curve },
        mark: { type: 'line' },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative' },
          color: { field: 's', type: 'nominal', title: '', legend: { orient: 'top-right' } },
        },
      },
    ],
  } as unknown as TopLevelSpec;
}

export async function saveFig10(dir: string, r: Fig10Result): Promise<string[]> {
  return writeResults(dir, 'fig10', r, fig10Plot(r));
}
