/**
 * Loopix Fig. 9 on this implementation: latency overhead against the number of clients (50 … 500), every
 * client at λP = λL = λD = 10/min, mixes at λM = 10/min, and no mixing delay (Loopix §5 "Latency Overhead &
 * Scalability": "all clients set a delay of 0.0 seconds for all the hops").
 *
 * Zero delay: µ = 10^6/s, so every drawn per-hop delay is Exp(µ) with a 1 µs mean (the header carries whole
 * microseconds; almost all are 0 or 1 µs). Every point is a fresh testbed (src/bench/figures/testnet.ts).
 *
 * Measured over `measureS` seconds after a warm-up:
 *   per-hop overhead    the mixes' own arrival → departure histograms (minus the header delay), summed over
 *                       the six mixes: mean, p50, p99 (bucket bounds, ≤ 12 % high)
 *   loop RTT            round trips of the nodes' own loops (mix: the two other mix layers, a provider, back;
 *                       provider: three mixes and back), i.e. 4 Sphinx hops and 4 loopback UDP transits with
 *                       zero delay: the end-to-end overhead of a path, with no client pull schedule in it
 */
import type { TopLevelSpec } from '../../plot/svg.js';
import { linePlot } from '../../plot/svg.js';
import { baseline, machineInfo, writeResults, type MachineInfo } from '../env.js';
import { histDiff, histSum, histSummary, round } from '../stats.js';
import { clientsSentPerS, runTestnetLoad, type TestbedFigureOptions } from './testnet.js';

export interface Fig9Options extends TestbedFigureOptions {
  readonly clients: readonly number[];
}

export const FIG9_DEFAULTS = {
  clients: [50, 100, 200, 300, 400, 500],
  warmupS: 10,
  measureS: 60,
  pullIntervalMs: 5000,
} as const;

export interface Fig9Point {
  readonly clients: number;
  readonly clients_connected: number;
  /** Per-hop overhead at the mixes, ms. */
  readonly hop_ms: ReturnType<typeof histSummary>;
  /** Per-hop overhead at the providers (first hop of client packets, deliveries), ms. */
  readonly provider_hop_ms: ReturnType<typeof histSummary>;
  /** Node loop round trips (4 hops, zero delay), ms. */
  readonly loop_rtt_ms: ReturnType<typeof histSummary>;
  readonly mix_processed_per_s: number;
  readonly clients_sent_per_s: number;
  readonly dropped: Record<string, number>;
}

export interface Fig9Result {
  readonly figure: 'Loopix Fig. 9';
  readonly points: readonly Fig9Point[];
  /** Overhead growth from the fewest to the most clients, ms (the paper: +0.37 ms from 50 to 500). */
  readonly hop_mean_increase_ms: number;
  readonly rates_per_min: {
    readonly lambdaP: number;
    readonly lambdaL: number;
    readonly lambdaD: number;
    readonly lambdaM: number;
  };
  readonly mu_per_s: number;
  readonly measure_s: number;
  readonly pull_interval_ms: number;
  readonly openssl_x25519_per_s: number | null;
  readonly machine: MachineInfo;
  readonly finished_at: string;
}

export async function runFig9(o: Fig9Options): Promise<Fig9Result> {
  const base = baseline(o.opensslSeconds, o.log);
  const mu = 1e6;
  const r10 = 10 / 60;
  const points: Fig9Point[] = [];
  for (const n of o.clients) {
    o.log(`fig9: ${n} clients at λP = λL = λD = λM = 10/min, zero delay`);
    const r = await runTestnetLoad({
      params: { lambdaP: r10, lambdaL: r10, lambdaD: r10, lambdaM: r10, mu, pullIntervalMs: o.pullIntervalMs },
      clients: n,
      messagesPerClientPerS: 0.9 * r10,
      warmupS: o.warmupS,
      measureS: o.measureS,
      log: o.log,
    });
    const diff = (
      role: string,
      pick: (s: (typeof r.nodes)[number]['after']) => (typeof r.nodes)[number]['after']['latency_overhead']['hist'],
    ) =>
      histSum(
        r.nodes.filter((x) => role === 'any' || x.role === role).map((x) => histDiff(pick(x.after), pick(x.before))),
      );
    const mixes = r.nodes.filter((x) => x.role === 'mix');
    const processed =
      mixes.reduce((a, m) => a + (m.after.counters.processed ?? 0) - (m.before.counters.processed ?? 0), 0) /
      mixes.length /
      r.measuredS;
    const dropped: Record<string, number> = {};
    for (const x of r.nodes)
      for (const [why, c] of Object.entries(x.after.dropped)) {
        const d = c - (x.before.dropped[why] ?? 0);
        if (d > 0) dropped[why] = (dropped[why] ?? 0) + d;
      }
    const point: Fig9Point = {
      clients: n,
      clients_connected: r.connected,
      hop_ms: histSummary(diff('mix', (s) => s.latency_overhead.hist)),
      provider_hop_ms: histSummary(diff('provider', (s) => s.latency_overhead.hist)),
      loop_rtt_ms: histSummary(diff('any', (s) => s.loop_rtt.hist)),
      mix_processed_per_s: round(processed, 1),
      clients_sent_per_s: round(clientsSentPerS(r), 1),
      dropped,
    };
    o.log(
      `fig9:   per hop (mixes) mean ${point.hop_ms.mean} ms p50 ${point.hop_ms.p50} p99 ${point.hop_ms.p99}; loop RTT mean ${point.loop_rtt_ms.mean} ms (${point.loop_rtt_ms.count} loops)`,
    );
    points.push(point);
  }
  return {
    figure: 'Loopix Fig. 9',
    points,
    hop_mean_increase_ms: points.length > 1 ? round(points.at(-1)!.hop_ms.mean - points[0]!.hop_ms.mean) : 0,
    rates_per_min: { lambdaP: 10, lambdaL: 10, lambdaD: 10, lambdaM: 10 },
    mu_per_s: mu,
    measure_s: o.measureS,
    pull_interval_ms: o.pullIntervalMs,
    openssl_x25519_per_s: base.x25519PerS,
    machine: machineInfo(base.version),
    finished_at: new Date().toISOString(),
  };
}

export function fig9Plot(r: Fig9Result): TopLevelSpec {
  return linePlot({
    title: 'Fig. 9 (this implementation): latency overhead vs clients, λP = λL = λD = λM = 10/min, zero mixing delay',
    x: { field: 'clients', title: 'number of clients' },
    y: { field: 'ms', title: 'latency overhead (ms)' },
    series: { field: 's', title: '' },
    data: r.points.flatMap((p) => [
      { clients: p.clients, ms: p.hop_ms.mean, s: 'per mix hop, mean' },
      { clients: p.clients, ms: p.hop_ms.p99, s: 'per mix hop, p99' },
      { clients: p.clients, ms: p.loop_rtt_ms.mean, s: 'node loop (4 hops), mean' },
    ]),
  });
}

export async function saveFig9(dir: string, r: Fig9Result): Promise<string[]> {
  return writeResults(dir, 'fig9', r, fig9Plot(r));
}
