/**
 * Raw samples for the live mixing self-checks (`loopix testnet --check-mixing`, docs/anonymity.md "Live
 * self-checks"). Enabled by the node config's `probe.mixing`; a node without it never constructs one, so the
 * packet path pays one optional-chaining check per packet.
 *
 * What it records, all as wall-clock milliseconds (performance.timeOrigin + performance.now(), so the testnet
 * can cut the samples of every process to one analysis window):
 *  - `pool`: [t, n] — packets held in the delay stage, sampled at Poisson times (Exp gaps, mean
 *    `sampleIntervalMs`): by PASTA the samples see the time-average pool, which Lemma 1 (Loopix §3.3) says is
 *    Poisson(λ/µ);
 *  - `enter`: t — every packet that enters the delay stage (scheduled, or sent at once because its delay had
 *    already passed), so λ can be measured over exactly the analysis window;
 *  - `depart`: t — every forwarded packet leaving the pool for the wire (what an observer of the mix's
 *    output link sees, apart from the mix's own loops);
 *  - `loops`: [sent, rtt] — each own loop that came back: send time and round-trip time, ms.
 *
 * `take()` returns the samples since the previous call and forgets them, so each statistics report stays
 * small; at most `maxPerReport` entries per kind are kept between two reports (the rest are counted in
 * `overflow`, which the analysis reports rather than silently measuring a wrong rate).
 *
 * With `record: false` the probe keeps nothing for the stats reports and only passes every event to its
 * listeners: the node's live mixing health (src/ops/mixing-health.ts), which judges a sliding window itself.
 */

/** Receives every probe event as it happens (wall-clock ms, as above). */
export interface MixingProbeListener {
  entered(tMs: number): void;
  departed(tMs: number): void;
  loopReturned(sentMs: number, rttMs: number): void;
  pool(tMs: number, size: number): void;
}

export interface MixingProbeReport {
  readonly pool: [number, number][];
  readonly enter: number[];
  readonly depart: number[];
  readonly loops: [number, number][];
  /** Samples not kept because a kind reached maxPerReport before this report (0 normally). */
  readonly overflow: number;
}

export interface MixingProbeOptions {
  /** The number of packets held in the delay stage now. */
  readonly poolSize: () => number;
  /** Mean of the Exp-distributed gap between two pool samples, ms. */
  readonly sampleIntervalMs: number;
  readonly maxPerReport: number;
  /** Keep samples for `take()` (default true); false: only feed the listeners. */
  readonly record?: boolean;
}

/** Wall-clock ms of a performance.now() reading. */
export const wallMs = (perfNow: number): number => performance.timeOrigin + perfNow;

/** Rounds a timestamp to 1 µs: enough for the tests, and keeps the IPC messages short. */
const us = (ms: number): number => Math.round(ms * 1000) / 1000;

export class MixingProbe {
  private pool: [number, number][] = [];
  private enter: number[] = [];
  private depart: number[] = [];
  private loops: [number, number][] = [];
  private overflow = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: MixingProbeListener[] = [];
  /** Samples are kept for take() (the stats reports of `--check-mixing`). */
  readonly recording: boolean;

  constructor(private readonly o: MixingProbeOptions) {
    this.recording = o.record !== false;
  }

  addListener(l: MixingProbeListener): void {
    this.listeners.push(l);
  }

  start(): void {
    if (this.timer) return;
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A packet entered the delay stage; `arrivalPerf` is its socket arrival (performance.now() clock). */
  entered(arrivalPerf: number): void {
    const t = us(wallMs(arrivalPerf));
    for (const l of this.listeners) l.entered(t);
    if (!this.recording) return;
    if (this.enter.length < this.o.maxPerReport) this.enter.push(t);
    else this.overflow++;
  }

  /** A forwarded packet is being sent now. */
  departed(): void {
    const t = us(wallMs(performance.now()));
    for (const l of this.listeners) l.departed(t);
    if (!this.recording) return;
    if (this.depart.length < this.o.maxPerReport) this.depart.push(t);
    else this.overflow++;
  }

  /** One of the node's own loops came back now after `rttMs`. */
  loopReturned(rttMs: number): void {
    const sent = us(wallMs(performance.now() - rttMs));
    for (const l of this.listeners) l.loopReturned(sent, us(rttMs));
    if (!this.recording) return;
    if (this.loops.length < this.o.maxPerReport) this.loops.push([sent, us(rttMs)]);
    else this.overflow++;
  }

  /** The samples since the previous call. */
  take(): MixingProbeReport {
    const r: MixingProbeReport = {
      pool: this.pool,
      enter: this.enter,
      depart: this.depart,
      loops: this.loops,
      overflow: this.overflow,
    };
    this.pool = [];
    this.enter = [];
    this.depart = [];
    this.loops = [];
    this.overflow = 0;
    return r;
  }

  private sample(): void {
    const t = us(wallMs(performance.now()));
    const size = this.o.poolSize();
    for (const l of this.listeners) l.pool(t, size);
    if (!this.recording) return;
    if (this.pool.length < this.o.maxPerReport) this.pool.push([t, size]);
    else this.overflow++;
  }

  /** Poisson sampling times: independent of the pool's state (no sampling bias towards busy moments). */
  private arm(): void {
    const wait = -Math.log(1 - Math.random()) * this.o.sampleIntervalMs;
    this.timer = setTimeout(() => {
      this.sample();
      this.arm();
    }, wait);
    this.timer.unref();
  }
}
