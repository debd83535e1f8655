/**
 * A node's counters, gauges and latency histogram (docs/pipeline.md "metrics"). Every stage reports here
 * through two calls, `count(name)` and `drop(reason)`, so a packet that leaves the pipeline anywhere other
 * than the socket or the inbox is always a `dropped.<reason>` counter: nothing is dropped silently.
 *
 * The values live in prom-client metrics of one Registry per node (`registry`), which `/metrics` serves
 * (src/ops/http.ts) under Prometheus names (src/ops/metric-names.ts: `received` is
 * `loopix_packets_received_total`, `drop('replay')` is `loopix_packets_dropped_total{reason="replay"}`).
 * `snapshot()` returns the same numbers as plain JSON (the stats line / IPC message of `loopix mix` and
 * `loopix provider`), synchronously — see readCounter for how.
 *
 * Worker threads do not call this directly: they ship counter deltas to the main thread, which applies them
 * with `count(name, by)` / `drop(reason, by)`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { counterMetric, DROPPED_METRIC, gaugeMetric, OVERHEAD_BUCKETS_S } from '../ops/metric-names.js';
import type { CounterName } from './counters.js';
import { DROP_REASON_NAMES, type DropReason } from './drop-reasons.js';

/** Drop reasons and their meanings live in src/node/drop-reasons.ts (one table, checked against docs/). */
export type { DropReason } from './drop-reasons.js';
export type { CounterName } from './counters.js';

/** Log-spaced histogram buckets: upper bounds in ms, 1 µs .. ~100 s, ~12 % apart. */
const BUCKET_RATIO = 1.12;
const BUCKET_MIN_MS = 0.001;
const BUCKET_COUNT = Math.ceil(Math.log(100_000 / BUCKET_MIN_MS) / Math.log(BUCKET_RATIO)) + 1;

const LOG_BUCKET_RATIO = Math.log(BUCKET_RATIO);

/** Upper bound (ms) of histogram bucket `i` (bucket 0 holds everything ≤ 1 µs). */
export function bucketUpperMs(i: number): number {
  return BUCKET_MIN_MS * BUCKET_RATIO ** i;
}

/** A histogram's raw state, for summing histograms of several nodes or differencing two reports. */
export interface HistogramState {
  readonly count: number;
  /** Σ x and Σ x², ms and ms², for exact means and standard deviations. */
  readonly sum: number;
  readonly sumsq: number;
  /** Non-empty buckets as [index, count] (upper bound: bucketUpperMs(index)). */
  readonly buckets: readonly (readonly [number, number])[];
}

/** A fixed-memory latency histogram; percentiles are bucket upper bounds (≤ 12 % high). */
export class LatencyHistogram {
  private readonly buckets = new Float64Array(BUCKET_COUNT);
  private n = 0;
  private sum = 0;
  private sumsq = 0;
  private maxMs = 0;

  record(ms: number): void {
    const v = ms > 0 ? ms : 0;
    const i =
      v <= BUCKET_MIN_MS ? 0 : Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log(v / BUCKET_MIN_MS) / LOG_BUCKET_RATIO));
    this.buckets[i]! += 1;
    this.n += 1;
    this.sum += v;
    this.sumsq += v * v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** Adds another histogram's raw state (a packet-path worker's report) to this one. */
  merge(h: HistogramState): void {
    for (const [i, c] of h.buckets) if (i >= 0 && i < BUCKET_COUNT) this.buckets[i]! += c;
    this.n += h.count;
    this.sum += h.sum;
    this.sumsq += h.sumsq;
    if (h.count > 0) {
      const top = h.buckets.length ? bucketUpperMs(h.buckets[h.buckets.length - 1]![0]) : 0;
      if (top > this.maxMs) this.maxMs = Math.min(top, h.sum);
    }
  }

  /** The raw state (see HistogramState). */
  state(): HistogramState {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKET_COUNT; i++) if (this.buckets[i]! > 0) buckets.push([i, this.buckets[i]!]);
    return { count: this.n, sum: this.sum, sumsq: this.sumsq, buckets };
  }

  get count(): number {
    return this.n;
  }

  percentile(q: number): number {
    if (this.n === 0) return 0;
    const want = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.buckets[i]!;
      if (seen >= want) return Math.min(this.maxMs, BUCKET_MIN_MS * BUCKET_RATIO ** i);
    }
    return this.maxMs;
  }

  snapshot(): {
    count: number;
    mean_ms: number;
    sd_ms: number;
    p50_ms: number;
    p90_ms: number;
    p99_ms: number;
    max_ms: number;
    hist: HistogramState;
  } {
    const r = (x: number) => Math.round(x * 1000) / 1000;
    const mean = this.n ? this.sum / this.n : 0;
    return {
      count: this.n,
      mean_ms: r(mean),
      sd_ms: r(this.n > 1 ? Math.sqrt(Math.max(0, (this.sumsq - this.n * mean * mean) / (this.n - 1))) : 0),
      p50_ms: r(this.percentile(0.5)),
      p90_ms: r(this.percentile(0.9)),
      p99_ms: r(this.percentile(0.99)),
      max_ms: r(this.maxMs),
      hist: this.state(),
    };
  }
}

/** The JSON form of a node's metrics (stats line, IPC message, `RunningNode.snapshot()`). */
export interface MetricsSnapshot {
  readonly node: string;
  readonly role: string;
  readonly uptime_s: number;
  readonly counters: Record<string, number>;
  readonly dropped: Record<string, number>;
  readonly dropped_total: number;
  readonly gauges: Record<string, number | boolean | null>;
  /** Arrival → departure minus the header's delay, ms: the node's own processing overhead. */
  readonly latency_overhead: ReturnType<LatencyHistogram['snapshot']>;
}

/** The counters every node reports from the start (0 until the first event), so dashboards see the series. */
const BASE_COUNTERS = [
  'received',
  'processed',
  'forwarded',
  'delivered',
  'loops_sent',
  'loops_returned',
] as const satisfies readonly CounterName[];

/**
 * The current value of an unlabelled series (`labels` absent) or of one label set of a prom-client Counter.
 *
 * prom-client's public `get()` is async (it awaits `collect` callbacks), but the stats line and the tests
 * read counters synchronously. A counter without `collect` keeps its values in `hashMap`, keyed by the label
 * values; this reads that map. prom-client is pinned to 15.1.x for this, and test/ops-metrics.test.ts checks
 * that the snapshot equals what the public async API returns, so an upgrade that changes the layout fails
 * a test instead of reporting zeros.
 */
function counterValues(c: Counter<string>): { value: number; labels: Record<string, string | number> }[] {
  const map = (c as unknown as { hashMap: Record<string, { value: number; labels: Record<string, string | number> }> })
    .hashMap;
  return Object.values(map);
}

/** The node's latency histogram: the JSON snapshot's log-spaced buckets and the exported Prometheus buckets. */
export interface OverheadRecorder {
  /** One packet's processing overhead, ms (negative values count as 0). */
  record(ms: number): void;
  /** Adds a packet-path worker's histogram (the sharded pipeline's stats reports). */
  merge(h: HistogramState): void;
  readonly count: number;
  snapshot(): ReturnType<LatencyHistogram['snapshot']>;
}

export class NodeMetrics {
  /** Every metric of this node; `/metrics` serves `registry.metrics()`. */
  readonly registry = new Registry();
  /** count(name) → its prom-client Counter (created on first use). */
  private readonly counters = new Map<CounterName, Counter<string>>();
  private readonly drops: Counter<'reason'>;
  private readonly links: Counter<'direction' | 'peer'>;
  private readonly linkChildren = new Map<string, Counter.Internal>();
  private readonly gauges = new Map<string, () => number | boolean | null>();
  readonly latency: OverheadRecorder;
  private readonly started = performance.now();

  constructor(
    readonly node: string,
    readonly role: string,
  ) {
    this.registry.setDefaultLabels({ node_id: node, role });
    this.drops = new Counter({
      name: DROPPED_METRIC.name,
      help: DROPPED_METRIC.help,
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.links = new Counter({
      name: 'loopix_link_packets_total',
      help: 'Packets per link: direction="in" arrived from peer, "out" handed to the socket for peer (node name; "clients" for client SUBMITs, "unknown" for an address not in the topology).',
      labelNames: ['direction', 'peer'],
      registers: [this.registry],
    });
    for (const name of BASE_COUNTERS) this.counterFor(name);
    // Every reason exported from the start (at 0), so a dashboard sees each series before its first drop.
    for (const reason of DROP_REASON_NAMES) this.drops.inc({ reason }, 0);
    const hist = new LatencyHistogram();
    const prom = new Histogram({
      name: 'loopix_processing_overhead_seconds',
      help: "Arrival to departure minus the header's Exp(mu) delay: the node's own queueing and processing time, seconds.",
      buckets: [...OVERHEAD_BUCKETS_S],
      registers: [this.registry],
    });
    this.latency = {
      record(ms: number): void {
        hist.record(ms);
        prom.observe(ms > 0 ? ms / 1000 : 0);
      },
      merge(h: HistogramState): void {
        hist.merge(h);
        // The exported histogram sees each worker bucket's packets at that bucket's upper bound (≤ 12 % high,
        // as the JSON percentiles): the worker reports bucket counts, not the single values.
        for (const [i, c] of h.buckets) for (let k = 0; k < c; k++) prom.observe(bucketUpperMs(i) / 1000);
      },
      get count() {
        return hist.count;
      },
      snapshot: () => hist.snapshot(),
    };
  }

  private counterFor(name: CounterName): Counter<string> {
    let c = this.counters.get(name);
    if (c === undefined) {
      const m = counterMetric(name);
      // Two count() names may share one family (e.g. a label); reuse a family already registered.
      const existing = this.registry.getSingleMetric(m.name) as Counter<string> | undefined;
      c = existing ?? new Counter({ name: m.name, help: m.help, registers: [this.registry] });
      this.counters.set(name, c);
    }
    return c;
  }

  /** Adds `by` (default 1) to the event counter `name`. Never throws (a bad `by` is ignored). */
  count(name: CounterName, by = 1): void {
    if (!(by > 0) || !Number.isFinite(by)) return;
    this.counterFor(name).inc(by);
  }

  /** Counts `by` (default 1) packets dropped for `reason`. Never throws. */
  drop(reason: DropReason, by = 1): void {
    if (!(by > 0) || !Number.isFinite(by)) return;
    this.drops.inc({ reason }, by);
  }

  /** Counts `by` packets on the link to or from `peer` (a node name). Never throws. */
  countLink(direction: 'in' | 'out', peer: string, by = 1): void {
    if (!(by > 0) || !Number.isFinite(by)) return;
    // Called per packet: the labelled child is looked up once per link (prom-client would hash the label
    // object on every inc()).
    const key = direction === 'in' ? peer : `\u0000${peer}`;
    let child = this.linkChildren.get(key);
    if (!child) this.linkChildren.set(key, (child = this.links.labels({ direction, peer })));
    child.inc(by);
  }

  /** Packets counted on one link so far. */
  link(direction: 'in' | 'out', peer: string): number {
    return (
      counterValues(this.links).find((v) => v.labels.direction === direction && v.labels.peer === peer)?.value ?? 0
    );
  }

  /**
   * Registers a gauge read at snapshot and scrape time (booleans export as 0/1; null, or a read that throws,
   * exports NaN: "no value now", never a misleading 0).
   */
  gauge(name: string, read: () => number | boolean | null): void {
    const first = !this.gauges.has(name);
    this.gauges.set(name, read);
    const m = gaugeMetric(name);
    if (!first || m === null || this.registry.getSingleMetric(m.name)) return;
    const gauges = this.gauges;
    new Gauge({
      name: m.name,
      help: m.help,
      registers: [this.registry],
      collect() {
        let v: number | boolean | null;
        try {
          v = gauges.get(name)!();
        } catch {
          v = null;
        }
        const n = v === null ? Number.NaN : typeof v === 'boolean' ? Number(v) : v * m.scale;
        this.set(Number.isFinite(n) ? n : Number.NaN);
      },
    });
  }

  counter(name: CounterName): number {
    const c = this.counters.get(name);
    return c ? (counterValues(c)[0]?.value ?? 0) : 0;
  }

  dropped(reason: DropReason): number {
    return counterValues(this.drops).find((v) => v.labels.reason === reason)?.value ?? 0;
  }

  snapshot(): MetricsSnapshot {
    const gauges: Record<string, number | boolean | null> = {};
    for (const [name, read] of this.gauges) {
      try {
        gauges[name] = read();
      } catch {
        gauges[name] = null;
      }
    }
    const counters: Record<string, number> = {};
    for (const name of this.counters.keys()) counters[name] = this.counter(name);
    const dropped: Record<string, number> = {};
    for (const v of counterValues(this.drops)) if (v.value > 0) dropped[String(v.labels.reason)] = v.value;
    return {
      node: this.node,
      role: this.role,
      uptime_s: Math.round((performance.now() - this.started) / 100) / 10,
      counters,
      dropped,
      dropped_total: Object.values(dropped).reduce((a, b) => a + b, 0),
      gauges,
      latency_overhead: this.latency.snapshot(),
    };
  }
}
