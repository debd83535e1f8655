/**
 * `loopix testnet --check-mixing`: the testnet's side of the live self-checks (docs/anonymity.md "Live
 * self-checks"). It turns the nodes' probes on, collects their samples, drives the probe client, fixes the
 * analysis window and hands everything to analyzeMixing (src/mixing/analysis.ts).
 *
 * Timeline (s after sending starts, S = --duration):
 *   0 ──── W = 5/µ ──────────── W + (S − W)/2 ──────────────── S ─── drain ─── final statistics
 *          window start          probe client gets its backlog   window end
 *   (warm-up: the pools of all layers fill to their steady state, each within a few 1/µ)
 */
import type { NetworkParams } from '../config/schema.js';
import type { NodeProcess } from './processes.js';
import type { DemoTraffic } from './traffic.js';
import { analyzeMixing, type MixingSummary } from '../mixing/analysis.js';
import { MixingCollector } from './mixing-collector.js';

/** What every node's config gets under --check-mixing (src/config/schema.ts `probe`). */
export const MIXING_PROBE_NODE_CONFIG = { probe: { mixing: true } } as const;

/** Warm-up before the window, in units of the mean delay 1/µ. */
export const WARMUP_MEAN_DELAYS = 5;

/**
 * Packets to queue at the probe client so its buffer stays non-empty through `seconds` of a λP stream:
 * 1.2 × the expected λP·t, and at least 3 standard deviations above it (the number of λP events is
 * Poisson(λP·t)), so the buffer runs dry before the window ends with probability < 0.2 %. The rest is sent
 * during the drain, at λP.
 */
export function backlogPackets(lambdaP: number, seconds: number): number {
  const m = lambdaP * Math.max(0, seconds);
  return Math.ceil(Math.max(1.2 * m, m + 3 * Math.sqrt(m)));
}

const wall = (perf: number) => performance.timeOrigin + perf;

export class MixingCheck {
  private readonly collector = new MixingCollector();
  private windowStartMs = NaN;
  private windowEndMs = NaN;
  private switchMs = NaN;
  private backlog = 0;
  private backlogLeft = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nodes: readonly NodeProcess[],
    private readonly traffic: DemoTraffic,
    private readonly params: NetworkParams,
    private readonly layers: number,
    private readonly log: (line: string) => void,
  ) {
    this.collector.attach(nodes);
  }

  /** Sending started at `sendStart` (performance.now()) for `durationS` seconds. */
  start(sendStart: number, durationS: number): void {
    const warmupMs = (WARMUP_MEAN_DELAYS / this.params.mu) * 1000;
    const endPerf = sendStart + durationS * 1000;
    const switchPerf = sendStart + warmupMs + (durationS * 1000 - warmupMs) / 2;
    this.windowStartMs = wall(sendStart + warmupMs);
    this.switchMs = wall(switchPerf);
    if (!(warmupMs < (durationS * 1000) / 2))
      this.log(
        `check-mixing: --duration ${durationS} s leaves little after the ${warmupMs / 1000} s warm-up; use ≥ 60 s`,
      );
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.backlog = backlogPackets(this.params.lambdaP, (endPerf - performance.now()) / 1000);
        this.switchMs = wall(performance.now());
        void this.traffic.queueProbeBacklog(this.backlog);
      },
      Math.max(0, switchPerf - performance.now()),
    );
    this.timer.unref(); // never what keeps an interrupted testnet alive
  }

  /** Sending stopped now: the window ends. */
  stopSending(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.windowEndMs = wall(performance.now());
    this.backlogLeft = this.traffic.clients[0]?.stats().send_buffer ?? 0;
  }

  /** Called once the final statistics are in; null when the run never reached the end of its window. */
  finish(): MixingSummary | null {
    if (!(this.windowEndMs > this.windowStartMs)) return null;
    return analyzeMixing({
      mu: this.params.mu,
      layers: this.layers,
      windowStartMs: this.windowStartMs,
      windowEndMs: this.windowEndMs,
      collectedAtMs: wall(performance.now()),
      nodes: this.collector.samples(this.nodes),
      client: {
        sends: this.traffic.probeSends,
        switchMs: this.switchMs,
        backlogPackets: this.backlog,
        backlogLeft: this.backlogLeft,
        expectedRatePerS: this.params.lambdaP + this.params.lambdaL + this.params.lambdaD,
      },
    });
  }
}
