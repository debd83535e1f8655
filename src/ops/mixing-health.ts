/**
 * A node's own mixing health, computed continuously over a sliding window and exported as Prometheus gauges:
 * the same checks `loopix testnet --check-mixing` runs once over a whole test (src/mixing/analysis.ts,
 * docs/anonymity.md "Live self-checks"), judged here on one node's own samples:
 *
 *  - pool (Loopix §3.3 Lemma 1): with Poisson input at rate λ and Exp(µ) delays the delay stage holds
 *    Poisson(λ/µ) packets. Exported: the measured input rate λ_in, the expected pool λ_in/µ, the mean of the
 *    pool samples, and the chi-square p-value of thinned samples against Poisson(λ_in/µ);
 *  - output: departures of that pool are a Poisson process, so gaps × λ_out are Exp(1): KS p-value;
 *  - latency: the node's own loops cross L mix layers that each hold them Exp(µ): round trips against
 *    Gamma(L, µ), KS p-value.
 *
 * The client check of `--check-mixing` (idle vs busy sender) needs a client and is not a node's to run.
 *
 * Samples arrive through the node's MixingProbe (src/node/mixing-probe.ts) as wall-clock ms. Memory is
 * bounded: each kind keeps at most `maxSamples` entries (older ones are dropped first, and the window the
 * checks use shrinks to what is kept — exported as loopix_mixing_window_seconds).
 */
import { Gauge, type Registry } from 'prom-client';
import { analyzeMixing, type MixingSummary } from '../mixing/analysis.js';
import type { MixingProbeListener } from '../node/mixing-probe.js';

export interface MixingHealthOptions {
  readonly role: 'mix' | 'provider';
  readonly layer: number;
  /** µ, 1/s (node config params.mu). */
  readonly mu: number;
  /** Mix layers L of the topology: the delayed hops of the node's own loops. */
  readonly layers: number;
  /** Sliding window, s. */
  readonly windowS: number;
  /** Most samples kept per kind (default 200,000: 60 s at 3,300 packets/s). */
  readonly maxSamples?: number;
  /** Clock, wall-clock ms (tests). */
  readonly now?: () => number;
  /** When sampling began, wall-clock ms (default: construction time). */
  readonly startedMs?: number;
}

/** A bounded FIFO of samples with amortised O(1) removal from the front. */
class Window<T> {
  private items: T[] = [];
  private head = 0;

  constructor(private readonly max: number) {}

  push(x: T): void {
    this.items.push(x);
    if (this.items.length - this.head > this.max) this.head++;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops entries at the front while `old(entry)` holds. */
  prune(old: (x: T) => boolean): void {
    while (this.head < this.items.length && old(this.items[this.head]!)) this.head++;
  }

  first(): T | undefined {
    return this.items[this.head];
  }

  values(): T[] {
    return this.items.slice(this.head);
  }

  get length(): number {
    return this.items.length - this.head;
  }
}

/** How long one computed summary serves scrapes (every gauge of one scrape reads the same one), ms. */
const CACHE_MS = 1000;

export class MixingHealth implements MixingProbeListener {
  private readonly enterW: Window<number>;
  private readonly departW: Window<number>;
  private readonly loopW: Window<[number, number]>;
  private readonly poolW: Window<[number, number]>;
  private readonly now: () => number;
  private readonly startedMs: number;
  private cached: { at: number; summary: MixingSummary | null; windowS: number } | undefined;

  constructor(private readonly o: MixingHealthOptions) {
    const max = o.maxSamples ?? 200_000;
    this.enterW = new Window(max);
    this.departW = new Window(max);
    this.loopW = new Window(max);
    this.poolW = new Window(max);
    this.now = o.now ?? (() => performance.timeOrigin + performance.now());
    this.startedMs = o.startedMs ?? this.now();
  }

  entered(t: number): void {
    this.enterW.push(t);
  }

  departed(t: number): void {
    this.departW.push(t);
  }

  loopReturned(sentMs: number, rttMs: number): void {
    this.loopW.push([sentMs, rttMs]);
  }

  pool(t: number, size: number): void {
    this.poolW.push([t, size]);
  }

  /** The checks over the current window (cached for CACHE_MS), or null before any sample arrived. */
  summary(): { summary: MixingSummary | null; windowS: number } {
    const now = this.now();
    if (this.cached && now - this.cached.at < CACHE_MS) return this.cached;
    const cut = now - this.o.windowS * 1000;
    this.enterW.prune((t) => t < cut);
    this.departW.prune((t) => t < cut);
    this.loopW.prune(([sent, rtt]) => sent + rtt < cut);
    this.poolW.prune(([t]) => t < cut);
    // The window starts at the node's start, the cut, or the oldest sample still kept of a kind that hit its
    // cap — whichever is latest, so a rate is never measured over time whose samples were dropped.
    let start = Math.max(cut, this.startedMs);
    for (const w of [this.enterW, this.departW] as Window<number>[])
      if (w.length >= (this.o.maxSamples ?? 200_000)) start = Math.max(start, w.first()!);
    const windowS = (now - start) / 1000;
    let summary: MixingSummary | null = null;
    // A scrape must never fail because of the statistics: a check that cannot run reports nothing.
    if (windowS > 0 && this.poolW.length > 0)
      try {
        summary = analyzeMixing({
          mu: this.o.mu,
          layers: this.o.layers,
          windowStartMs: start,
          windowEndMs: now,
          collectedAtMs: now,
          // Judged as a mix: a provider's delay stage is the same Poisson mix for the hops it delays.
          nodes: [
            {
              name: 'self',
              role: 'mix',
              layer: this.o.layer,
              pool: this.poolW.values(),
              enter: this.enterW.values(),
              depart: this.departW.values(),
              loops: this.loopW.values(),
              overflow: 0,
            },
          ],
        });
      } catch {
        summary = null;
      }
    this.cached = { at: now, summary, windowS };
    return this.cached;
  }

  /** Registers the loopix_mixing_* gauges on `registry`; each scrape reads one cached summary. */
  register(registry: Registry): void {
    // prom-client calls collect() with `this` bound to the metric, so the health object needs another name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const gauge = (name: string, help: string, read: (s: MixingSummary) => number | null, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          // NaN (not 0) while the window holds too little to measure: a missing value must not read as "empty".
          const { summary } = self.summary();
          const v = summary ? read(summary) : null;
          this.set(v !== null && Number.isFinite(v) ? v : Number.NaN);
        },
      });
    const node = (s: MixingSummary) => s.per_node.self!;
    gauge(
      'loopix_mixing_input_rate_per_second',
      'Packets entering the delay stage per second over the mixing window (lambda_in).',
      (s) => node(s).lambda_in_per_s,
    );
    gauge(
      'loopix_mixing_output_rate_per_second',
      'Packets leaving the delay stage for the next hop per second over the mixing window.',
      (s) => node(s).lambda_out_per_s,
    );
    gauge(
      'loopix_mixing_pool_expected_packets',
      'Pool size the Loopix model predicts, lambda_in / mu (Loopix 3.3, Lemma 1).',
      (s) => node(s).pool_expected,
    );
    gauge(
      'loopix_mixing_pool_mean_packets',
      'Mean of the pool-size samples over the mixing window (compare with loopix_mixing_pool_expected_packets).',
      (s) => node(s).pool_mean,
    );
    new Gauge({
      name: 'loopix_mixing_check_p_value',
      help: 'p-value of a live mixing check over the window: pool_poisson (chi-square, Lemma 1), output_exponential (KS of departure gaps), loop_latency_gamma (KS of own loop round trips against Gamma(L, mu)). Small values (< 0.01) say the node does not mix as the model predicts.',
      labelNames: ['check'],
      registers: [registry],
      collect() {
        this.reset();
        const { summary } = self.summary();
        if (!summary) return;
        for (const [check, p] of [
          ['pool_poisson', summary.pool_p],
          ['output_exponential', summary.output_exp_p],
          ['loop_latency_gamma', summary.latency_gamma_p],
        ] as const) {
          if (p !== null && Number.isFinite(p)) this.set({ check }, p);
        }
      },
    });
    new Gauge({
      name: 'loopix_mixing_window_seconds',
      help: 'Length of the sliding window the mixing checks cover now, seconds.',
      registers: [registry],
      collect() {
        this.set(self.summary().windowS);
      },
    });
    new Gauge({
      name: 'loopix_mixing_samples',
      help: 'Samples in the mixing window by kind: pool (size samples), enter, depart, loops (returned own loops).',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        self.summary();
        this.set({ kind: 'pool' }, self.poolW.length);
        this.set({ kind: 'enter' }, self.enterW.length);
        this.set({ kind: 'depart' }, self.departW.length);
        this.set({ kind: 'loops' }, self.loopW.length);
      },
    });
  }
}
