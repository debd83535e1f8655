/**
 * Loopix Fig. 8 on this implementation: packets processed per second by one mix node against each client's
 * total sending rate λ = λP + λL + λD, all traffic and payload traffic (Loopix §5 "Bandwidth").
 *
 * Setup as the paper's: 500 clients (default), six mixes in three layers of two, four providers; µ = 1000/s
 * (1 ms mean delay per hop); the rates start at λL = λD = 1, λP = 3, λM = 1 per minute and each grows by
 * 2 per minute per step (`steps` picks which steps to run). Every step is a fresh network (the nodes read λM
 * at start-up). Clients keep real messages coming at 0.9 λP, so the λP stream is mostly payload.
 *
 * Measured per step, over `measureS` seconds after a warm-up: each mix's `processed` counter (every unwrap,
 * whatever the packet turned out to be), averaged over the six mixes ("all traffic"). Payload traffic: mixes
 * cannot tell real from cover packets (that is the point), so instead of the paper's temporary type flag we
 * count at the senders: every real packet crosses exactly one of the two mixes of each layer, chosen
 * uniformly, so one mix carries (real packets sent per second) ÷ 2.
 */
import type { TopLevelSpec } from '../../plot/svg.js';
import { linePlot } from '../../plot/svg.js';
import { baseline, machineInfo, writeResults, type MachineInfo } from '../env.js';
import { histDiff, histSum, histSummary, round } from '../stats.js';
import { clientsSentPerS, hostDelta, runTestnetLoad, type TestbedFigureOptions } from './testnet.js';

export interface Fig8Options extends TestbedFigureOptions {
  readonly clients: number;
  /** Which steps k of the paper's schedule (rates 1+2k, 1+2k, 3+2k, 1+2k per minute) to run. */
  readonly steps: readonly number[];
}

export const FIG8_DEFAULTS = {
  clients: 500,
  steps: [0, 2, 5, 10, 16, 25],
  warmupS: 8,
  measureS: 20,
  pullIntervalMs: 5000,
} as const;

export interface Fig8Point {
  readonly step: number;
  /** λ = λP + λL + λD per client, per minute. */
  readonly lambda_per_min: number;
  readonly lambda_m_per_min: number;
  /** Mean over the six mixes of packets processed per second. */
  readonly mix_all_per_s: number;
  readonly mix_all_per_s_by_mix: Record<string, number>;
  /** Real packets per second through one mix (see the module comment). */
  readonly mix_payload_per_s: number;
  /** Client packets per second entering the network (all streams). */
  readonly clients_sent_per_s: number;
  readonly mix_cpu_cores_mean: number | null;
  readonly mix_overhead_ms_p50: number;
  readonly dropped: Record<string, number>;
  readonly clients_connected: number;
  readonly client_host_cpu_cores: number;
}

export interface Fig8Result {
  readonly figure: 'Loopix Fig. 8';
  readonly clients: number;
  readonly points: readonly Fig8Point[];
  readonly mu_per_s: number;
  readonly measure_s: number;
  readonly pull_interval_ms: number;
  readonly openssl_x25519_per_s: number | null;
  readonly machine: MachineInfo;
  readonly note: string;
  readonly finished_at: string;
}

export async function runFig8(o: Fig8Options): Promise<Fig8Result> {
  const base = baseline(o.opensslSeconds, o.log);
  const points: Fig8Point[] = [];
  const mu = 1000;
  for (const k of o.steps) {
    const perMin = { L: 1 + 2 * k, D: 1 + 2 * k, P: 3 + 2 * k, M: 1 + 2 * k };
    const lambda = perMin.L + perMin.D + perMin.P;
    o.log(
      `fig8: step ${k}: λ = ${lambda}/min per client (λP ${perMin.P}, λL ${perMin.L}, λD ${perMin.D}), λM ${perMin.M}/min, ${o.clients} clients`,
    );
    const r = await runTestnetLoad({
      params: {
        lambdaP: perMin.P / 60,
        lambdaL: perMin.L / 60,
        lambdaD: perMin.D / 60,
        lambdaM: perMin.M / 60,
        mu,
        pullIntervalMs: o.pullIntervalMs,
      },
      clients: o.clients,
      messagesPerClientPerS: (0.9 * perMin.P) / 60,
      warmupS: o.warmupS,
      measureS: o.measureS,
      log: o.log,
    });
    const mixes = r.nodes.filter((n) => n.role === 'mix');
    const byMix: Record<string, number> = {};
    for (const m of mixes)
      byMix[m.name] = round(((m.after.counters.processed ?? 0) - (m.before.counters.processed ?? 0)) / r.measuredS, 1);
    const all = Object.values(byMix).reduce((a, b) => a + b, 0) / mixes.length;
    const real = hostDelta(r, 'sent_real') / r.measuredS;
    const sent = clientsSentPerS(r);
    const dropped: Record<string, number> = {};
    for (const n of r.nodes)
      for (const [why, c] of Object.entries(n.after.dropped)) {
        const d = c - (n.before.dropped[why] ?? 0);
        if (d > 0) dropped[why] = (dropped[why] ?? 0) + d;
      }
    const cpus = mixes.map((m) => m.cpuCores).filter((c): c is number => c !== null);
    const overhead = histSummary(
      histSum(mixes.map((m) => histDiff(m.after.latency_overhead.hist, m.before.latency_overhead.hist))),
    );
    const point: Fig8Point = {
      step: k,
      lambda_per_min: lambda,
      lambda_m_per_min: perMin.M,
      mix_all_per_s: round(all, 1),
      mix_all_per_s_by_mix: byMix,
      mix_payload_per_s: round(real / 2, 1),
      clients_sent_per_s: round(sent, 1),
      mix_cpu_cores_mean: cpus.length ? round(cpus.reduce((a, b) => a + b, 0) / cpus.length) : null,
      mix_overhead_ms_p50: overhead.p50,
      dropped,
      clients_connected: r.connected,
      client_host_cpu_cores: round(r.clientHostCpuCores),
    };
    o.log(
      `fig8:   one mix: ${point.mix_all_per_s} packets/s all, ${point.mix_payload_per_s} payload; clients sent ${point.clients_sent_per_s}/s; drops ${JSON.stringify(dropped)}`,
    );
    points.push(point);
  }
  return {
    figure: 'Loopix Fig. 8',
    clients: o.clients,
    points,
    mu_per_s: mu,
    measure_s: o.measureS,
    pull_interval_ms: o.pullIntervalMs,
    openssl_x25519_per_s: base.x25519PerS,
    machine: machineInfo(base.version),
    note:
      'All nodes and client hosts share one machine, so the whole testbed saturates long before one mix does; ' +
      'the single-mix capacity is bench relay (relay.json). Payload = real packets sent ÷ 2 (one of two mixes per layer).',
    finished_at: new Date().toISOString(),
  };
}

export function fig8Plot(r: Fig8Result): TopLevelSpec {
  return linePlot({
    title: `Fig. 8 (this implementation): one mix node, ${r.clients} clients, 3 layers × 2 mixes, 4 providers`,
    x: { field: 'lambda', title: 'rate of sending per client λ (per minute)' },
    y: { field: 'v', title: 'packets processed per second (one mix)' },
    series: { field: 's', title: '' },
    data: r.points.flatMap((p) => [
      { lambda: p.lambda_per_min, v: p.mix_all_per_s, s: 'All traffic' },
      { lambda: p.lambda_per_min, v: p.mix_payload_per_s, s: 'Payload traffic' },
    ]),
  });
}

export async function saveFig8(dir: string, r: Fig8Result): Promise<string[]> {
  return writeResults(dir, 'fig8', r, fig8Plot(r));
}
