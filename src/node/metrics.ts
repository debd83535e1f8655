/**
 * A node's counters, gauges and latency histogram (docs/pipeline.md "metrics"). Every stage reports here
 * through two calls, `count(name)` and `drop(reason)`, so a packet that leaves the pipeline anywhere other
 * than the socket or the inbox is always a `dropped.<reason>` counter: nothing is dropped silently.
 *
 * `snapshot()` returns plain JSON (the stats line / IPC message of `loopix mix` and `loopix provider`).
 */

import type { CounterName } from './counters.js';
import type { DropReason } from './drop-reasons.js';

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
    const i = v <= BUCKET_MIN_MS ? 0 : Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log(v / BUCKET_MIN_MS) / LOG_BUCKET_RATIO));
    this.buckets[i]! += 1;
    this.n += 1;
    this.sum += v;
    this.sumsq += v * v;
    if (v > this.maxMs) this.maxMs = v;
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

  snapshot(): { count: number; mean_ms: number; sd_ms: number; p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number; hist: HistogramState } {
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

export class NodeMetrics {
  private readonly counters = new Map<string, number>();
  private readonly drops = new Map<string, number>();
  private readonly gauges = new Map<string, () => number | boolean | null>();
  readonly latency = new LatencyHistogram();
  private readonly started = performance.now();

  constructor(
    readonly node: string,
    readonly role: string,
  ) {
    for (const name of ['received', 'processed', 'forwarded', 'delivered', 'loops_sent', 'loops_returned'] satisfies CounterName[]) this.counters.set(name, 0);
  }

  count(name: CounterName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  drop(reason: DropReason, by = 1): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + by);
  }

  /** Registers a gauge read at snapshot time. */
  gauge(name: string, read: () => number | boolean | null): void {
    this.gauges.set(name, read);
  }

  counter(name: CounterName): number {
    return this.counters.get(name) ?? 0;
  }

  dropped(reason: DropReason): number {
    return this.drops.get(reason) ?? 0;
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
    const dropped = Object.fromEntries(this.drops);
    return {
      node: this.node,
      role: this.role,
      uptime_s: Math.round((performance.now() - this.started) / 100) / 10,
      counters: Object.fromEntries(this.counters),
      dropped,
      dropped_total: Object.values(dropped).reduce((a, b) => a + b, 0),
      gauges,
      latency_overhead: this.latency.snapshot(),
    };
  }
}
