/**
 * Poisson processes for the client's three sending streams (Loopix §3.2): payload-or-drop at λP, loops at
 * λL, drops at λD. Each stream is its own timer chain with Exp(λ) inter-arrival times drawn from a CSPRNG, so
 * the streams are independent and their superposition is a Poisson process of rate λP + λL + λD.
 *
 * Time is behind a `Scheduler` so tests can run thousands of simulated seconds in milliseconds
 * (`SimulatedScheduler`); production uses `systemScheduler` (performance.now + setTimeout).
 */

/** A uniform random number in (0, 1]. */
export type RandomSource = () => number;

export type TimerHandle = unknown;

/** Monotonic time and one-shot timers, in milliseconds. */
export interface Scheduler {
  now(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Longest single setTimeout Node accepts; longer waits are re-armed in chunks. */
export const MAX_TIMER_MS = 0x7fff_ffff;

export const systemScheduler: Scheduler = Object.freeze({
  now: () => performance.now(),
  setTimer: (fn: () => void, delayMs: number): TimerHandle =>
    setTimeout(fn, Math.min(Math.max(0, delayMs), MAX_TIMER_MS)),
  clearTimer: (handle: TimerHandle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

// --- CSPRNG uniform --------------------------------------------------------------------------------------

const POOL_WORDS = 512;
const pool = new Uint32Array(POOL_WORDS);
let poolAt = POOL_WORDS;
const TWO_POW_53 = 2 ** 53;

function nextWord(): number {
  if (poolAt >= POOL_WORDS) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  return pool[poolAt++]!;
}

/**
 * Uniform in (0, 1] with 53 random bits from crypto.getRandomValues: (k + 1) / 2^53, k uniform in [0, 2^53).
 * Never returns 0, so −ln(u) is finite.
 */
export const cryptoUniform: RandomSource = () => {
  const hi = nextWord() >>> 11; // 21 bits
  const lo = nextWord(); // 32 bits
  return (hi * 2 ** 32 + lo + 1) / TWO_POW_53;
};

/** An Exp(rate) sample: −ln(u) / rate (same unit as 1/rate). */
export function sampleExp(rate: number, random: RandomSource = cryptoUniform): number {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive finite number, got ${rate}`);
  return -Math.log(random()) / rate;
}

/** A uniform index in [0, n). */
export function randomIndex(n: number, random: RandomSource = cryptoUniform): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  return Math.min(n - 1, Math.floor((1 - random()) * n));
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(items: readonly T[], random: RandomSource = cryptoUniform): T {
  if (items.length === 0) throw new RangeError('cannot pick from an empty list');
  return items[randomIndex(items.length, random)]!;
}

// --- Poisson stream --------------------------------------------------------------------------------------

export interface PoissonStreamOptions {
  /** For logs and errors. */
  readonly name: string;
  /** Events per second (λ). */
  readonly rate: number;
  readonly onEvent: () => void;
  readonly scheduler?: Scheduler;
  readonly random?: RandomSource;
  /**
   * Deadlines follow the ideal Poisson schedule (timer lateness does not lower the rate); if the process
   * stalls for longer than this, the schedule restarts from now instead of bursting the backlog. Default 1 s.
   */
  readonly maxLagMs?: number;
  /** An exception from `onEvent` goes here (default: ignored); the stream keeps running. */
  readonly onError?: (err: unknown) => void;
}

/** One Poisson process: a chain of one-shot timers with Exp(λ) gaps. */
export class PoissonStream {
  readonly name: string;
  private rateValue: number;
  private readonly onEvent: () => void;
  private readonly scheduler: Scheduler;
  private readonly random: RandomSource;
  private readonly maxLagMs: number;
  private readonly onError: (err: unknown) => void;
  private timer: TimerHandle | undefined;
  private deadline = 0;
  private running = false;
  private eventCount = 0;

  constructor(o: PoissonStreamOptions) {
    if (!(o.rate > 0) || !Number.isFinite(o.rate))
      throw new RangeError(`${o.name} rate must be a positive finite number, got ${o.rate}`);
    this.name = o.name;
    this.rateValue = o.rate;
    this.onEvent = o.onEvent;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? cryptoUniform;
    this.maxLagMs = o.maxLagMs ?? 1000;
    this.onError = o.onError ?? (() => {});
  }

  get rate(): number {
    return this.rateValue;
  }

  /** Events fired since construction. */
  get events(): number {
    return this.eventCount;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.deadline = this.scheduler.now();
    this.scheduleNext();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.scheduler.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Changes λ; takes effect from the next gap (memorylessness makes that exact). */
  setRate(rate: number): void {
    if (!(rate > 0) || !Number.isFinite(rate))
      throw new RangeError(`${this.name} rate must be a positive finite number, got ${rate}`);
    this.rateValue = rate;
    if (this.running) {
      this.stop();
      this.start();
    }
  }

  private scheduleNext(): void {
    this.deadline += sampleExp(this.rateValue, this.random) * 1000;
    this.arm();
  }

  private arm(): void {
    const wait = this.deadline - this.scheduler.now();
    this.timer = this.scheduler.setTimer(() => this.fire(), Math.min(Math.max(0, wait), MAX_TIMER_MS));
  }

  private fire(): void {
    this.timer = undefined;
    if (!this.running) return;
    const now = this.scheduler.now();
    if (now < this.deadline - 1) {
      // A wait longer than one timer can hold, or a timer that fired early: wait for the rest.
      this.arm();
      return;
    }
    if (now - this.deadline > this.maxLagMs) this.deadline = now;
    this.eventCount++;
    try {
      this.onEvent();
    } catch (err) {
      this.onError(err);
    }
    if (this.running) this.scheduleNext();
  }
}

// --- simulated time (tests, simulations) -----------------------------------------------------------------

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A discrete-event clock: timers run in time order when the test advances time. */
export class SimulatedScheduler implements Scheduler {
  private t: number;
  private seq = 0;
  private readonly heap: SimTimer[] = [];

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer: SimTimer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    if (handle && typeof handle === 'object') (handle as SimTimer).cancelled = true;
  }

  /** Pending (not cancelled) timers. */
  get pending(): number {
    return this.heap.filter((t) => !t.cancelled).length;
  }

  /** Runs every timer due within the next `ms` milliseconds, in order, and leaves the clock at now + ms. */
  advance(ms: number): void {
    this.runUntil(this.t + ms);
  }

  runUntil(target: number): void {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > target) break;
      this.pop();
      if (top.cancelled) continue;
      this.t = Math.max(this.t, top.at);
      top.fn();
    }
    this.t = Math.max(this.t, target);
  }

  private less(a: SimTimer, b: SimTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(x: SimTimer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): SimTimer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
