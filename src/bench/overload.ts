/**
 * `loopix bench overload`: one mix node (src/bench/rig.ts) offered `factor` × its sustained rate (default 2×)
 * for `seconds` (default 60), then left alone, then offered half its sustained rate again.
 *
 * What it reports (issue 4):
 *   goodput_ratio       packets forwarded per second during the overload ÷ the sustained rate
 *   queue_delay_ms_p99  p99 of generator send → sink arrival over every forwarded packet of the overload:
 *                       the node's queueing (kernel socket buffer + processing queue) plus its processing and
 *                       two loopback hops, i.e. an upper bound on the queueing delay
 *   rss_mb_max          the node process's largest resident set size (sampled with every stats report)
 *   aqm                 the AQM drop probability (and queueing delay, queue length, rates, RSS) over time,
 *                       from the node's own stats reports every 0.25 s; plotted
 *   recovery            after the load stops: how long until the drop probability is back to 0, and loss and
 *                       latency of a half-load step afterwards (the node is expected to behave as before)
 *
 * The sustained rate is measured first with the relay search (src/bench/relay.ts, shorter steps) unless
 * `--max-rate` gives it.
 */
import type { TopLevelSpec } from '../plot/svg.js';
import { linePlot } from '../plot/svg.js';
import { baseline, machineInfo, stack, writeResults, type MachineInfo } from './env.js';
import { MAX_LOSS, searchMaxRate, type StepSummary } from './relay.js';
import { DEFAULT_BENCH_PIPELINE, processRssMb, RelayRig, type BenchPipeline, type LatencySummary } from './rig.js';
import { round } from './stats.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface OverloadBenchOptions {
  readonly workers: number;
  /** Sustained rate to start from; null: measure it first. */
  readonly maxRate: number | null;
  readonly factor: number;
  readonly seconds: number;
  /** Search step length when the sustained rate is measured here. */
  readonly stepSeconds: number;
  readonly recoverySeconds: number;
  readonly poolSize: number;
  readonly opensslSeconds: number;
  /** The node's packet path (node config pipeline.mode). */
  readonly pipeline?: BenchPipeline;
  readonly log: (line: string) => void;
}

export const OVERLOAD_DEFAULTS = {
  factor: 2,
  seconds: 60,
  stepSeconds: 3,
  recoverySeconds: 10,
  poolSize: 32768,
} as const;

export interface TimePoint {
  /** Seconds since the overload started. */
  readonly t: number;
  readonly phase: 'overload' | 'after' | 'recovery';
  readonly aqm_p: number;
  readonly aqm_delay_ms: number;
  readonly queue_packets: number;
  readonly forwarded_per_s: number;
  readonly dropped_per_s: number;
  readonly rss_mb: number | null;
  /** The node's V8 heap and ArrayBuffer memory (its own gauges), MB. */
  readonly heap_used_mb: number | null;
  readonly array_buffers_mb: number | null;
}

export interface OverloadBenchResult {
  readonly max_sustained_pkt_per_s: number;
  readonly max_sustained_source: 'measured' | 'given';
  readonly offered_pkt_per_s: number;
  readonly sent_pkt_per_s: number;
  readonly forwarded_pkt_per_s: number;
  readonly goodput_ratio: number;
  readonly queue_delay_ms_p99: number;
  readonly queue_delay_ms: LatencySummary | null;
  /** The node's own arrival → departure during the overload, ms. */
  readonly node_latency_ms: { readonly p50: number; readonly p99: number; readonly mean: number };
  /** p99 of the AQM's measured queueing delay gauge over the overload, ms. */
  readonly aqm_delay_ms_p99: number;
  readonly aqm_drop_probability_mean: number;
  readonly rss_mb_max: number | null;
  readonly rss_mb_before: number | null;
  readonly rss_mb_after: number | null;
  readonly drops: Record<string, number>;
  readonly recovery: {
    /** Seconds after the load stopped until the node reported p = 0 (null: not within the observation). */
    readonly aqm_zero_after_s: number | null;
    readonly offered_pkt_per_s: number;
    readonly loss: number;
    readonly wire_ms: LatencySummary | null;
    readonly recovered: boolean;
  };
  readonly timeline: readonly TimePoint[];
  readonly search_steps: readonly StepSummary[];
  readonly workers: number;
  readonly pipeline: BenchPipeline;
  readonly seconds: number;
  readonly factor: number;
  readonly openssl_x25519_per_s: number | null;
  readonly machine: MachineInfo;
  readonly finished_at: string;
}

export async function runOverloadBench(o: OverloadBenchOptions): Promise<OverloadBenchResult> {
  const base = baseline(o.opensslSeconds, o.log);
  const rig = await RelayRig.start({
    workers: o.workers,
    poolSize: o.poolSize,
    statsIntervalS: 0.25,
    log: o.log,
    pipeline: { mode: o.pipeline ?? DEFAULT_BENCH_PIPELINE },
  });
  try {
    await rig.step(2000, 2000, false);
    let max = o.maxRate;
    let searchSteps: StepSummary[] = [];
    if (max === null) {
      o.log('overload: measuring the sustained rate first');
      const s = await searchMaxRate(rig, {
        stepSeconds: o.stepSeconds,
        startRate: 2000,
        growth: 1.4,
        resolution: 0.05,
        maxSteps: 12,
        log: o.log,
      });
      if (!s.best) throw new Error('no search step passed; cannot define the overload');
      max = s.best.forwardedRate;
      searchSteps = s.steps;
    }
    const offered = o.factor * max;
    o.log(`overload: ${o.factor} × ${max} = ${Math.round(offered)} packets/s for ${o.seconds} s`);

    // Timeline from the node's stats reports (every 0.25 s).
    const timeline: TimePoint[] = [];
    let phase: TimePoint['phase'] = 'overload';
    let t0 = 0;
    let prev: { at: number; forwarded: number; dropped: number } | null = null;
    let rssMax = 0;
    const pid = rig.nodePid;
    const rssBefore = processRssMb(pid);
    const off = rig.onStats((s, at) => {
      if (t0 === 0) return;
      const forwarded = s.counters.forwarded ?? 0;
      const dropped = s.dropped_total;
      const rss = processRssMb(pid);
      if (rss !== null && phase === 'overload') rssMax = Math.max(rssMax, rss);
      const dt = prev ? (at - prev.at) / 1000 : 0;
      timeline.push({
        t: round((at - t0) / 1000, 2),
        phase,
        aqm_p: Number(s.gauges.aqm_drop_probability ?? 0),
        aqm_delay_ms: Number(s.gauges.aqm_queue_delay_ms ?? 0),
        queue_packets: Number(s.gauges.queue_packets ?? 0) + Number(s.gauges.in_flight_packets ?? 0),
        forwarded_per_s: prev && dt > 0 ? Math.round((forwarded - prev.forwarded) / dt) : 0,
        dropped_per_s: prev && dt > 0 ? Math.round((dropped - prev.dropped) / dt) : 0,
        rss_mb: rss === null ? null : round(rss, 1),
        heap_used_mb: typeof s.gauges.heap_used_mb === 'number' ? s.gauges.heap_used_mb : null,
        array_buffers_mb: typeof s.gauges.array_buffers_mb === 'number' ? s.gauges.array_buffers_mb : null,
      });
      prev = { at, forwarded, dropped };
    });
    const over = await rig.step(offered, o.seconds * 1000, true, () => {
      t0 = performance.now();
    });
    const stoppedAt = t0 + over.durationS * 1000;
    phase = 'after';
    await sleep(3000);
    const idle = timeline.filter((p) => p.phase === 'after');
    const zero = idle.find((p) => p.aqm_p === 0);
    phase = 'recovery';
    const rec = await rig.step(max / 2, o.recoverySeconds * 1000, true);
    off();
    const rssAfter = processRssMb(pid);

    const during = timeline.filter((p) => p.phase === 'overload' && p.t > 1);
    const delays = during.map((p) => p.aqm_delay_ms).sort((a, b) => a - b);
    const goodput = over.forwardedRate;
    const recovered = rec.loss < MAX_LOSS && (rec.latency?.p99 ?? Infinity) < 50;
    o.log(
      `overload: forwarded ${goodput}/s (goodput ratio ${(goodput / max).toFixed(3)}), queue delay p99 ${over.latency?.p99} ms, ` +
        `rss max ${rssMax.toFixed(0)} MB; recovery: loss ${(rec.loss * 100).toFixed(3)} %, p99 ${rec.latency?.p99} ms`,
    );
    return {
      max_sustained_pkt_per_s: max,
      max_sustained_source: o.maxRate === null ? 'measured' : 'given',
      offered_pkt_per_s: Math.round(offered),
      sent_pkt_per_s: over.sentRate,
      forwarded_pkt_per_s: goodput,
      goodput_ratio: round(goodput / max),
      queue_delay_ms_p99: over.latency?.p99 ?? 0,
      queue_delay_ms: over.latency,
      node_latency_ms: { p50: over.nodeLatency.p50, p99: over.nodeLatency.p99, mean: over.nodeLatency.mean },
      aqm_delay_ms_p99: delays.length ? delays[Math.min(delays.length - 1, Math.floor(0.99 * delays.length))]! : 0,
      aqm_drop_probability_mean: round(during.reduce((a, p) => a + p.aqm_p, 0) / Math.max(1, during.length)),
      rss_mb_max: rssMax > 0 ? round(rssMax, 1) : null,
      rss_mb_before: rssBefore === null ? null : round(rssBefore, 1),
      rss_mb_after: rssAfter === null ? null : round(rssAfter, 1),
      drops: over.nodeDrops,
      recovery: {
        aqm_zero_after_s: zero ? round(Math.max(0, (zero.t * 1000 + t0 - stoppedAt) / 1000), 2) : null,
        offered_pkt_per_s: Math.round(max / 2),
        loss: round(rec.loss, 5),
        wire_ms: rec.latency,
        recovered,
      },
      timeline,
      search_steps: searchSteps,
      workers: o.workers,
      pipeline: o.pipeline ?? DEFAULT_BENCH_PIPELINE,
      seconds: o.seconds,
      factor: o.factor,
      openssl_x25519_per_s: base.x25519PerS,
      machine: machineInfo(base.version),
      finished_at: new Date().toISOString(),
    };
  } finally {
    await rig.close();
  }
}

/** The x axis of every overload panel. */
const SINCE_OVERLOAD = { field: 't', title: 's since the overload began' } as const;

export function overloadPlot(r: OverloadBenchResult): TopLevelSpec {
  const tl = r.timeline.filter((p) => p.phase !== 'recovery');
  return stack(
    `loopix bench overload: ${r.factor}× the sustained ${r.max_sustained_pkt_per_s} packets/s for ${r.seconds} s — goodput ratio ${r.goodput_ratio}, queue delay p99 ${r.queue_delay_ms_p99} ms`,
    [
      linePlot({
        title: 'AQM drop probability',
        x: SINCE_OVERLOAD,
        y: { field: 'aqm_p', title: 'p' },
        data: tl.map((p) => ({ t: p.t, aqm_p: p.aqm_p })),
        height: 200,
      }),
      linePlot({
        title: 'Packets per second',
        x: SINCE_OVERLOAD,
        y: { field: 'v', title: 'packets/s' },
        series: { field: 's', title: '' },
        data: tl.flatMap((p) => [
          { t: p.t, v: p.forwarded_per_s, s: 'forwarded' },
          { t: p.t, v: p.dropped_per_s, s: 'dropped (AQM + other)' },
        ]),
        height: 200,
      }),
      linePlot({
        title: 'Queueing delay measured by the AQM (ms) and node RSS (MB)',
        x: SINCE_OVERLOAD,
        y: { field: 'v', title: 'ms | MB' },
        series: { field: 's', title: '' },
        data: tl.flatMap((p) => [
          { t: p.t, v: p.aqm_delay_ms, s: 'AQM queueing delay, ms' },
          { t: p.t, v: p.rss_mb ?? 0, s: 'RSS, MB' },
        ]),
        height: 200,
      }),
    ],
  );
}

export async function saveOverloadResults(dir: string, r: OverloadBenchResult): Promise<string[]> {
  return writeResults(dir, 'overload', r, overloadPlot(r));
}
