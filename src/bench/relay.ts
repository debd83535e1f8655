/**
 * `loopix bench relay`: the capacity of one mix node, measured from outside (src/bench/rig.ts: the node as its own
 * process, a load generator and a sink as two more).
 *
 *   1. Warm-up at a low rate (JIT, worker threads, socket buffers).
 *   2. Search: offered rates grow ×`growth` from `startRate` until a step loses ≥ 0.1 % (or the generator
 *      cannot keep the pace), then bisect (geometric mean) between the best passing and the lowest failing
 *      rate until they are within `resolution`. A step passes when loss = 1 − forwarded ÷ sent < 0.1 %.
 *      `max_pkt_per_s` is the forwarded rate of the best passing step.
 *   3. Latency at 25, 50 and 75 % of that rate, zero mixing delay in every header: for every packet, the
 *      generator's send time and the sink's arrival time (one host-wide monotonic clock), i.e. the node's
 *      arrival → departure overhead plus two loopback hops, and the node's own arrival → departure histogram.
 *
 * Targets (issue 4; benchmarks, not timed tests): max_pkt_per_s ≥ 1.2 × (openssl X25519 op/s ÷ 2); at 50 %
 * load p50 ≤ 0.5 ms and p99 ≤ 5 ms.
 */
import { availableParallelism } from 'node:os';
import type { TopLevelSpec } from '../plot/svg.js';
import { linePlot } from '../plot/svg.js';
import { baseline, machineInfo, stack, writeResults, type MachineInfo } from './env.js';
import { RelayRig, type LatencySummary, type StepResult } from './rig.js';
import { round } from './stats.js';

export interface RelayBenchOptions {
  readonly workers: number;
  /** Seconds per search step. */
  readonly stepSeconds: number;
  /** Seconds per latency measurement. */
  readonly latencySeconds: number;
  readonly startRate: number;
  /** Factor between search steps until the first failure. */
  readonly growth: number;
  /** Stop bisecting when failing ÷ passing rate ≤ 1 + resolution. */
  readonly resolution: number;
  readonly maxSteps: number;
  /** Loss a passing step may have (issue 4: 0.001, i.e. < 0.1 %). */
  readonly maxLoss: number;
  readonly poolSize: number;
  readonly opensslSeconds: number;
  /** Where to write relay.json / relay.svg; null: nowhere. */
  readonly resultsDir: string | null;
  readonly log: (line: string) => void;
}

export const RELAY_DEFAULTS = {
  workers: availableParallelism(),
  stepSeconds: 5,
  latencySeconds: 5,
  startRate: 2000,
  growth: 1.4,
  resolution: 0.04,
  maxSteps: 14,
  maxLoss: 0.001,
  poolSize: 16384,
  opensslSeconds: 3,
} as const;

/** Loss a passing step may have (issue 4: < 0.1 %). */
export const MAX_LOSS = 0.001;

export interface StepSummary {
  readonly offered: number;
  readonly sent_per_s: number;
  readonly forwarded_per_s: number;
  readonly loss: number;
  readonly pass: boolean;
  readonly node_cpu_cores: number;
  readonly node_drops: Record<string, number>;
}

export interface LoadPoint {
  /** Fraction of max_pkt_per_s offered. */
  readonly load: number;
  readonly offered: number;
  readonly forwarded_per_s: number;
  readonly loss: number;
  /** Generator send → sink arrival, ms (the node's overhead plus two loopback hops). */
  readonly wire_ms: LatencySummary | null;
  /** The node's own arrival → departure histogram (bucket bounds, ≤ 12 % high), ms. */
  readonly node_ms: StepResult['nodeLatency'];
  readonly node_cpu_cores: number;
}

export interface RelayBenchResult {
  readonly max_pkt_per_s: number;
  readonly loss_at_max: number;
  readonly offered_at_max: number;
  /** Wire latency (generator → node → sink) at 50 % of max_pkt_per_s, ms. */
  readonly overhead_ms: { readonly p50: number; readonly p99: number; readonly mean: number; readonly max: number };
  /** The node's own arrival → departure at 50 % load, ms. */
  readonly node_overhead_ms: { readonly p50: number; readonly p99: number; readonly mean: number };
  readonly overhead_by_load: readonly LoadPoint[];
  /** Node process CPU (all threads) ÷ wall time at the max step. */
  readonly cpu_cores_used: number;
  readonly workers: number;
  readonly generator_cpu_cores: number;
  readonly sink_cpu_cores: number;
  readonly openssl_x25519_per_s: number | null;
  /** 1.2 × openssl ÷ 2 (issue 4). */
  readonly target_pkt_per_s: number | null;
  /** max_pkt_per_s ÷ target_pkt_per_s (≥ 1 meets it). */
  readonly max_vs_target: number | null;
  /** max_pkt_per_s ÷ openssl X25519 op/s: the gate's ratio. */
  readonly relay_vs_openssl: number | null;
  readonly steps: readonly StepSummary[];
  /** Loss a passing step may have. */
  readonly max_loss: number;
  readonly packet_bytes: number;
  readonly pool_packets: number;
  readonly step_seconds: number;
  readonly latency_seconds: number;
  readonly machine: MachineInfo;
  readonly finished_at: string;
}

function summarizeStep(s: StepResult, pass: boolean): StepSummary {
  return {
    offered: Math.round(s.offered),
    sent_per_s: s.sentRate,
    forwarded_per_s: s.forwardedRate,
    loss: round(s.loss, 5),
    pass,
    node_cpu_cores: s.nodeCpuCores,
    node_drops: s.nodeDrops,
  };
}

/** A step passes: loss < maxLoss (0.1 %) and the generator kept (97 % of) the pace. */
export function passes(s: StepResult, maxLoss: number = MAX_LOSS): boolean {
  return s.loss < maxLoss && s.sentRate >= 0.97 * s.offered;
}

export interface SearchResult {
  readonly best: StepResult | null;
  readonly steps: StepSummary[];
}

/** Stepped search for the highest rate with loss < 0.1 % (see the module comment). */
export async function searchMaxRate(
  rig: RelayRig,
  o: Pick<RelayBenchOptions, 'stepSeconds' | 'startRate' | 'growth' | 'resolution' | 'maxSteps' | 'log'> & { readonly maxLoss?: number },
): Promise<SearchResult> {
  const steps: StepSummary[] = [];
  let best: StepResult | null = null;
  let failRate = Infinity;
  let rate = o.startRate;
  for (let k = 0; k < o.maxSteps; k++) {
    const s = await rig.step(rate, o.stepSeconds * 1000, false);
    const ok = passes(s, o.maxLoss);
    steps.push(summarizeStep(s, ok));
    o.log(
      `  offered ${String(Math.round(rate)).padStart(6)}/s  sent ${String(s.sentRate).padStart(6)}/s  forwarded ${String(s.forwardedRate).padStart(6)}/s  ` +
        `loss ${(s.loss * 100).toFixed(3).padStart(7)} %  node ${s.nodeCpuCores.toFixed(2)} cores  ${ok ? 'pass' : 'FAIL'}` +
        (Object.keys(s.nodeDrops).length ? `  drops ${JSON.stringify(s.nodeDrops)}` : ''),
    );
    if (ok) {
      if (!best || s.forwardedRate > best.forwardedRate) best = s;
    } else failRate = Math.min(failRate, rate);
    const lo = best ? best.offered : 0;
    if (failRate === Infinity) rate = rate * o.growth;
    else if (lo === 0) rate = rate / 2;
    else if (failRate / lo <= 1 + o.resolution) break;
    else rate = Math.sqrt(lo * failRate);
  }
  return { best, steps };
}

export async function runRelayBench(o: RelayBenchOptions): Promise<RelayBenchResult> {
  const base = baseline(o.opensslSeconds, o.log);
  const rig = await RelayRig.start({ workers: o.workers, poolSize: o.poolSize, log: o.log });
  try {
    o.log(`relay: one mix node (${o.workers} crypto workers), ${o.stepSeconds} s per step`);
    await rig.step(Math.min(2000, o.startRate), 2000, false);
    const { best, steps } = await searchMaxRate(rig, o);
    if (!best) throw new Error(`no step passed (loss < ${o.maxLoss * 100} %), not even ${o.startRate} packets/s; see the steps above`);
    const max = best.forwardedRate;
    o.log(`relay: max sustained ${max} packets/s (loss ${(best.loss * 100).toFixed(3)} %, node ${best.nodeCpuCores} cores)`);

    const points: LoadPoint[] = [];
    for (const load of [0.25, 0.5, 0.75]) {
      const s = await rig.step(load * max, o.latencySeconds * 1000, true);
      points.push({
        load,
        offered: Math.round(s.offered),
        forwarded_per_s: s.forwardedRate,
        loss: round(s.loss, 5),
        wire_ms: s.latency,
        node_ms: s.nodeLatency,
        node_cpu_cores: s.nodeCpuCores,
      });
      o.log(
        `  ${Math.round(load * 100)} % load (${Math.round(s.offered)}/s): wire p50 ${s.latency?.p50} ms p99 ${s.latency?.p99} ms; ` +
          `node p50 ${s.nodeLatency.p50} ms p99 ${s.nodeLatency.p99} ms; loss ${(s.loss * 100).toFixed(3)} %`,
      );
    }
    const half = points[1]!;
    const x = base.x25519PerS;
    const target = x ? Math.round((1.2 * x) / 2) : null;
    return {
      max_pkt_per_s: max,
      loss_at_max: round(best.loss, 5),
      offered_at_max: Math.round(best.offered),
      overhead_ms: { p50: half.wire_ms?.p50 ?? 0, p99: half.wire_ms?.p99 ?? 0, mean: half.wire_ms?.mean ?? 0, max: half.wire_ms?.max ?? 0 },
      node_overhead_ms: { p50: half.node_ms.p50, p99: half.node_ms.p99, mean: half.node_ms.mean },
      overhead_by_load: points,
      cpu_cores_used: best.nodeCpuCores,
      workers: o.workers,
      generator_cpu_cores: best.generatorCpuCores,
      sink_cpu_cores: best.sinkCpuCores,
      openssl_x25519_per_s: x,
      target_pkt_per_s: target,
      max_vs_target: target ? round(max / target) : null,
      relay_vs_openssl: x ? round(max / x, 4) : null,
      steps,
      max_loss: o.maxLoss,
      packet_bytes: rig.packetBytes,
      pool_packets: o.poolSize,
      step_seconds: o.stepSeconds,
      latency_seconds: o.latencySeconds,
      machine: machineInfo(base.version),
      finished_at: new Date().toISOString(),
    };
  } finally {
    await rig.close();
  }
}

export function relayPlot(r: RelayBenchResult): TopLevelSpec {
  const search = r.steps.flatMap((s) => [
    { offered: s.offered, value: s.forwarded_per_s, series: 'forwarded' },
    { offered: s.offered, value: s.offered, series: 'offered (no loss)' },
  ]);
  const latency = r.overhead_by_load.flatMap((p) => [
    { load: p.load * 100, ms: p.wire_ms?.p50 ?? 0, series: 'wire p50' },
    { load: p.load * 100, ms: p.wire_ms?.p99 ?? 0, series: 'wire p99' },
    { load: p.load * 100, ms: p.node_ms.p50, series: 'node p50' },
    { load: p.load * 100, ms: p.node_ms.p99, series: 'node p99' },
  ]);
  return stack(`loopix bench relay: one mix node, ${r.workers} workers, max ${r.max_pkt_per_s} packets/s (openssl X25519 ${r.openssl_x25519_per_s ?? '?'} op/s)`, [
    linePlot({
      title: 'Forwarded vs offered rate (search steps)',
      x: { field: 'offered', title: 'offered packets/s' },
      y: { field: 'value', title: 'packets/s' },
      series: { field: 'series', title: '' },
      data: search.sort((a, b) => a.offered - b.offered),
    }),
    linePlot({
      title: 'Per-hop latency overhead vs load (zero mixing delay)',
      x: { field: 'load', title: '% of max_pkt_per_s' },
      y: { field: 'ms', title: 'ms', log: true },
      series: { field: 'series', title: '' },
      data: latency,
    }),
  ]);
}

export async function saveRelayResults(dir: string, r: RelayBenchResult): Promise<string[]> {
  return writeResults(dir, 'relay', r, relayPlot(r));
}
