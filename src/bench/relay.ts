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
 *   The search runs `searches` times (default 3) and reports the median; a failing step is retried once
 *   before it counts (searchMaxRate).
 *   4. With `scaling`, the same median search on a node with one worker, for the 1-vs-N scaling ratio.
 *
 * Reported beside the rates: X = the addon's own X25519 rate on one core measured in the same run (the
 * OpenSSL inside Node that the node uses), the system `openssl speed` figure, and the node main thread's CPU
 * time per forwarded packet (µs, from /proc of that thread) at the max step.
 *
 * Targets (benchmarks, not timed tests): max_pkt_per_s ≥ 0.6 × X (1.2 × one core's unwrap limit of X/2 on
 * two cores); 2 workers ≥ 1.8 × 1 worker; main thread ≤ 3 µs per forwarded packet; at 50 % load node
 * overhead p50 ≤ 0.5 ms and p99 ≤ 5 ms, no loss below 80 % of the maximum.
 */
import { availableParallelism } from 'node:os';
import type { TopLevelSpec } from '../plot/svg.js';
import { linePlot } from '../plot/svg.js';
import { baseline, machineInfo, stack, writeResults, type MachineInfo } from './env.js';
import { DEFAULT_BENCH_PIPELINE, RelayRig, type LatencySummary, type RigOptions, type StepResult } from './rig.js';
import { measureAddonX25519 } from './addon-baseline.js';
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
  /** Searches whose median is reported (default 3). */
  readonly searches?: number;
  /** The node's packet path (node config pipeline.mode). */
  readonly pipeline?: 'pool' | 'sharded';
  /** Also measure a node with one worker (scaling ratio). */
  readonly scaling?: boolean;
  /** Seconds of the addon X25519 measurement (X); 0 skips it. */
  readonly x25519Seconds?: number;
  /** Generator and sink on other hosts (RigOptions.remote). */
  readonly remote?: RigOptions['remote'];
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
  searches: 3,
  pipeline: DEFAULT_BENCH_PIPELINE,
  x25519Seconds: 3,
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

/** Half load while the node is stopped (SIGSTOP) for `stall_ms` once a second. */
export interface StallPoint {
  readonly stall_ms: number;
  /** Stalls that happened during the step. */
  readonly stalls: number;
  readonly offered: number;
  readonly loss: number;
  readonly wire_ms: LatencySummary | null;
  readonly node_ms: StepResult['nodeLatency'];
  /** The node's drops by reason (and the kernel's, `udp_kernel`) during the step. */
  readonly drops: Record<string, number>;
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
  /** X: the addon's X25519 op/s on one core, same run (null when skipped). */
  readonly addon_x25519_per_s: number | null;
  /** max_pkt_per_s ÷ X (the gate's ratio). */
  readonly relay_vs_x25519: number | null;
  /** 0.6 × X and max ÷ that (≥ 1 meets the target). */
  readonly target_vs_x25519: { readonly target: number; readonly ratio: number } | null;
  /** Each search's max, packets/s; max_pkt_per_s is their median. */
  readonly search_max_pkt_per_s: readonly number[];
  readonly pipeline: string;
  /** Main-thread CPU per forwarded packet at the max step, µs. */
  readonly main_cpu_us_per_packet: number | null;
  /** Loss at 80 % of the maximum (target: none). */
  readonly loss_at_80pct: number;
  /** A 30-ms stall of the whole node once a second at 50 % load (target: nothing lost). */
  readonly stall_at_half_load: StallPoint;
  /** With --scaling: the median max of a one-worker node and workers-vs-one ratio. */
  readonly scaling: { readonly one_worker_pkt_per_s: number; readonly workers: number; readonly ratio: number } | null;
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

/**
 * Stepped search for the highest rate with loss < 0.1 % (see the module comment). A step that fails is run
 * once more at the same rate before it counts as a failure (`retryFailed`, default on): one scheduling hiccup
 * of a shared host must not end a search, while a real limit fails twice.
 */
export async function searchMaxRate(
  rig: RelayRig,
  o: Pick<RelayBenchOptions, 'stepSeconds' | 'startRate' | 'growth' | 'resolution' | 'maxSteps' | 'log'> & {
    readonly maxLoss?: number;
    readonly retryFailed?: boolean;
  },
): Promise<SearchResult> {
  const steps: StepSummary[] = [];
  let best: StepResult | null = null;
  let failRate = Infinity;
  let rate = o.startRate;
  const logStep = (s: StepResult, ok: boolean, retry: boolean) =>
    o.log(
      `  offered ${String(Math.round(s.offered)).padStart(6)}/s  sent ${String(s.sentRate).padStart(6)}/s  forwarded ${String(s.forwardedRate).padStart(6)}/s  ` +
        `loss ${(s.loss * 100).toFixed(3).padStart(7)} %  node ${s.nodeCpuCores.toFixed(2)} cores  ${ok ? 'pass' : 'FAIL'}${retry ? ' (retry)' : ''}` +
        (Object.keys(s.nodeDrops).length ? `  drops ${JSON.stringify(s.nodeDrops)}` : ''),
    );
  for (let k = 0; k < o.maxSteps; k++) {
    let s = await rig.step(rate, o.stepSeconds * 1000, false);
    let ok = passes(s, o.maxLoss);
    steps.push(summarizeStep(s, ok));
    logStep(s, ok, false);
    if (!ok && o.retryFailed !== false) {
      s = await rig.step(rate, o.stepSeconds * 1000, false);
      ok = passes(s, o.maxLoss);
      steps.push(summarizeStep(s, ok));
      logStep(s, ok, true);
    }
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

export interface MedianSearch {
  /** The median search's best step (null when a search found no passing rate). */
  readonly best: StepResult | null;
  /** Each search's highest passing forwarded rate, packets/s (0: none passed). */
  readonly rates: readonly number[];
  readonly steps: StepSummary[];
}

/**
 * `searches` searches on the same rig; the result is the one with the median rate. The later searches start
 * at 70 % of the first one's result, so they bracket it in a few steps.
 */
export async function searchMedian(
  rig: RelayRig,
  o: Parameters<typeof searchMaxRate>[1] & { readonly searches: number },
): Promise<MedianSearch> {
  const results: SearchResult[] = [];
  for (let i = 0; i < Math.max(1, o.searches); i++) {
    const first = results[0]?.best;
    const startRate = first ? Math.max(500, 0.7 * first.forwardedRate) : o.startRate;
    o.log(`search ${i + 1} of ${o.searches} from ${Math.round(startRate)}/s`);
    results.push(await searchMaxRate(rig, { ...o, startRate }));
  }
  const rates = results.map((r) => r.best?.forwardedRate ?? 0);
  const order = rates.map((r, i) => [r, i] as const).sort((a, b) => a[0] - b[0]);
  const median = results[order[Math.floor((order.length - 1) / 2)]![1]]!;
  return { best: median.best, rates, steps: results.flatMap((r) => r.steps) };
}

/** Median search on a fresh rig of `workers` workers (the scaling measurement). */
async function medianOn(o: RelayBenchOptions, workers: number): Promise<MedianSearch> {
  const rig = await RelayRig.start({
    workers,
    poolSize: o.poolSize,
    log: o.log,
    pipeline: { mode: o.pipeline ?? DEFAULT_BENCH_PIPELINE },
    remote: o.remote,
  });
  try {
    await rig.step(Math.min(2000, o.startRate), 2000, false);
    return await searchMedian(rig, { ...o, searches: o.searches ?? 3 });
  } finally {
    await rig.close();
  }
}

export async function runRelayBench(o: RelayBenchOptions): Promise<RelayBenchResult> {
  const base = baseline(o.opensslSeconds, o.log);
  const xSeconds = o.x25519Seconds ?? 3;
  const addonX = xSeconds > 0 ? Math.round(measureAddonX25519(xSeconds)) : null;
  if (addonX) o.log(`addon X25519: ${addonX.toLocaleString('en-US')} op/s on one core (X)`);
  const mode = o.pipeline ?? DEFAULT_BENCH_PIPELINE;
  const rig = await RelayRig.start({
    workers: o.workers,
    poolSize: o.poolSize,
    log: o.log,
    pipeline: { mode },
    remote: o.remote,
  });
  try {
    o.log(
      `relay: one mix node (${mode} path, ${o.workers} workers), ${o.stepSeconds} s per step, median of ${o.searches ?? 3} searches`,
    );
    await rig.step(Math.min(2000, o.startRate), 2000, false);
    const { best, steps, rates } = await searchMedian(rig, { ...o, searches: o.searches ?? 3 });
    if (!best)
      throw new Error(
        `no step passed (loss < ${o.maxLoss * 100} %), not even ${o.startRate} packets/s; see the steps above`,
      );
    const max = best.forwardedRate;
    o.log(
      `relay: max sustained ${max} packets/s (median of ${rates.join(', ')}; loss ${(best.loss * 100).toFixed(3)} %, node ${best.nodeCpuCores} cores, main thread ${best.mainCpuUsPerPacket ?? '?'} µs/packet)`,
    );

    const points: LoadPoint[] = [];
    for (const load of [0.25, 0.5, 0.75, 0.8]) {
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
    const stall = await stallStep(rig, 0.5 * max, o.latencySeconds);
    o.log(
      `  50 % load with a ${stall.stall_ms}-ms stop of the node once a second (${stall.stalls} stops): loss ${(stall.loss * 100).toFixed(3)} %, ` +
        `wire p99 ${stall.wire_ms?.p99} ms, node p99 ${stall.node_ms.p99} ms, drops ${JSON.stringify(stall.drops)}`,
    );
    const half = points[1]!;
    const x = base.x25519PerS;
    const target = x ? Math.round((1.2 * x) / 2) : null;
    let scaling: RelayBenchResult['scaling'] = null;
    if (o.scaling && o.workers > 1) {
      await rig.close(); // one node at a time: the one-worker node gets the host to itself
      o.log('scaling: the same search on a node with one worker');
      const one = await medianOn(o, 1);
      const oneMax = one.best?.forwardedRate ?? 0;
      scaling = { one_worker_pkt_per_s: oneMax, workers: o.workers, ratio: oneMax > 0 ? round(max / oneMax, 3) : 0 };
      o.log(`scaling: 1 worker ${oneMax}/s, ${o.workers} workers ${max}/s: ×${scaling.ratio}`);
    }
    return {
      addon_x25519_per_s: addonX,
      relay_vs_x25519: addonX ? round(max / addonX, 4) : null,
      target_vs_x25519: addonX ? { target: Math.round(0.6 * addonX), ratio: round(max / (0.6 * addonX), 3) } : null,
      search_max_pkt_per_s: rates,
      pipeline: mode,
      main_cpu_us_per_packet: best.mainCpuUsPerPacket,
      loss_at_80pct: points[3]!.loss,
      stall_at_half_load: stall,
      scaling,
      max_pkt_per_s: max,
      loss_at_max: round(best.loss, 5),
      offered_at_max: Math.round(best.offered),
      overhead_ms: {
        p50: half.wire_ms?.p50 ?? 0,
        p99: half.wire_ms?.p99 ?? 0,
        mean: half.wire_ms?.mean ?? 0,
        max: half.wire_ms?.max ?? 0,
      },
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
  return stack(
    `loopix bench relay: one mix node, ${r.workers} workers, max ${r.max_pkt_per_s} packets/s (openssl X25519 ${r.openssl_x25519_per_s ?? '?'} op/s)`,
    [
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
    ],
  );
}

export async function saveRelayResults(dir: string, r: RelayBenchResult): Promise<string[]> {
  return writeResults(dir, 'relay', r, relayPlot(r));
}

/** Length of the injected stall, ms: a long GC pause or a disk write (docs/pipeline.md "Why these values"). */
export const STALL_MS = 30;

/**
 * One step at `rate` during which the whole node process is stopped (SIGSTOP, then SIGCONT after STALL_MS)
 * once a second, starting half a second in (mid-step in a shorter one): every thread of it, as a GC pause or a blocking write would stop
 * the thread it hits. The queue the stop builds must drain without a drop (the AQM's burst allowance and
 * hard bound are set for it).
 */
async function stallStep(rig: RelayRig, rate: number, seconds: number): Promise<StallPoint> {
  const pid = rig.nodePid;
  const timers: NodeJS.Timeout[] = [];
  let stalls = 0;
  const resume = () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // the node is gone; the step reports the loss
    }
  };
  try {
    const s = await rig.step(rate, seconds * 1000, true, () => {
      // First stop half a second in (or half-way through a shorter step), then one a second.
      for (let t = Math.min(500, (seconds * 1000 - STALL_MS) / 2); t + STALL_MS < seconds * 1000; t += 1000)
        timers.push(
          setTimeout(() => {
            process.kill(pid, 'SIGSTOP');
            stalls++;
            timers.push(setTimeout(resume, STALL_MS));
          }, t),
        );
    });
    return {
      stall_ms: STALL_MS,
      stalls,
      offered: Math.round(s.offered),
      loss: round(s.loss, 5),
      wire_ms: s.latency,
      node_ms: s.nodeLatency,
      drops: s.nodeDrops,
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    resume();
  }
}
