/**
 * The client's own loops (λL, Loopix §3.2): which are out, their round-trip times, which were lost, and the
 * per-node attribution of src/loops/monitor.ts so a testnet or an operator can tell which node the lost loops
 * went through.
 */
import { bytesToHex } from './bytes.js';
import { LOOP_MARGIN_BASE_MS, LOOP_MARGIN_PER_HOP_MS, LoopMonitor, type LoopAttribution } from '../loops/monitor.js';
import type { Route } from './routes.js';
import { Samples, type Percentiles } from './stats.js';

export interface LoopTrackerOptions {
  /** Monotonic ms. */
  readonly now: () => number;
  /** A loop not back after this long is counted lost, ms. */
  readonly timeoutMs: number;
  /** Round-trip samples kept for percentiles (most recent). */
  readonly sampleLimit: number;
  /** Pull interval, ms: a returned loop waits in the provider's inbox for the next pull. */
  readonly pullIntervalMs: number;
}

export type LoopOutcome = 'returned' | 'unknown';

export class LoopTracker {
  /** Loop id (hex) → send time; insertion order = age order. */
  private readonly out = new Map<string, number>();
  /** Only the counts are used (threshold 0: no alarm); the 60 s window bounds how long a due loop is remembered. */
  private readonly paths = new LoopMonitor(60_000, 0);
  private evaluatedAt = -Infinity;
  private readonly rtt: Samples;
  sent = 0;
  returned = 0;
  lost = 0;

  constructor(private readonly o: LoopTrackerOptions) {
    this.rtt = new Samples(o.sampleLimit);
  }

  get outstanding(): number {
    return this.out.size;
  }

  /**
   * Records a loop that left. Due at send time + the drawn delays + the nodes' loop margin per hop + two pull
   * intervals, ms.
   */
  onSent(loopId: Uint8Array, route: Route): void {
    this.expire();
    const now = this.o.now();
    this.out.set(bytesToHex(loopId), now);
    this.sent++;
    const delayMs = route.hops.reduce((a, h) => a + h.delayUs, 0) / 1000;
    const margin = LOOP_MARGIN_BASE_MS + LOOP_MARGIN_PER_HOP_MS * route.nodes.length + 2 * this.o.pullIntervalMs;
    this.paths.sent(
      loopId,
      now,
      now + delayMs + margin,
      route.nodes.map((n) => n.id),
    );
    if (now - this.evaluatedAt >= 1000) this.evaluate(now); // forgets old loops
  }

  /** A LOOP packet came back: ours (RTT recorded) or not. */
  onReturn(loopId: Uint8Array): LoopOutcome {
    const id = bytesToHex(loopId);
    const sentAt = this.out.get(id);
    if (sentAt === undefined) return 'unknown';
    this.out.delete(id);
    const now = this.o.now();
    this.paths.returned(loopId, now);
    this.returned++;
    this.rtt.add(now - sentAt);
    return 'returned';
  }

  /** Counts loops out longer than timeoutMs as lost. */
  expire(): void {
    const cutoff = this.o.now() - this.o.timeoutMs;
    for (const [id, at] of this.out) {
      if (at > cutoff) break;
      this.out.delete(id);
      this.lost++;
    }
  }

  rttSummary(): Percentiles {
    return this.rtt.summary();
  }

  rttSamples(): number[] {
    return this.rtt.values();
  }

  /** Own loops per node on their paths: due and returned, in the last 60 s and since start. */
  attribution(): LoopAttribution {
    this.evaluate(this.o.now());
    return this.paths.attribution();
  }

  private evaluate(now: number): void {
    this.evaluatedAt = now;
    this.paths.evaluate(now);
  }
}
