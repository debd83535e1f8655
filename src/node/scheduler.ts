/**
 * The delay stage (Loopix §3.2, "Poisson mix"): holds each packet until `arrival + delay_us` (the delay the
 * sender chose for this hop), then hands it on. One binary min-heap keyed by the departure time and ONE
 * timer re-armed to the earliest deadline — never a timer per packet, so 10^5 held packets cost 10^5 heap
 * entries, not 10^5 timers.
 *
 * Times are milliseconds on the `performance.now()` clock. Items with equal deadlines leave in the order
 * they were scheduled (a sequence number breaks ties).
 */

/**
 * A packet in a node's delay stage: one to forward to its next hop (`To`: however the path names it) or, at a
 * provider, one to deliver to a client's inbox, with its arrival time and the delay its header asked for (ms;
 * it leaves at arrival + delayMs).
 */
export type HeldPacket<To> =
  | {
      readonly kind: 'forward';
      readonly packet: Uint8Array;
      readonly to: To;
      readonly arrival: number;
      readonly delayMs: number;
    }
  | {
      readonly kind: 'deliver';
      readonly packet: Uint8Array;
      readonly client: Uint8Array;
      readonly arrival: number;
      readonly delayMs: number;
    };

/**
 * Holds a copy of a routed packet (a view would keep its whole batch alive) for the `delayUs` µs its header
 * asked for, from `arrival` (ms): to forward to `to`, or, at a provider, to deliver to `client`.
 */
export function holdPacket<To>(
  scheduler: DelayScheduler<HeldPacket<To>>,
  packet: Uint8Array,
  arrival: number,
  delayUs: number,
  dest: { readonly to: To } | { readonly client: Uint8Array },
): void {
  const delayMs = delayUs / 1000;
  const held = { packet: packet.slice(), arrival, delayMs };
  scheduler.schedule(
    arrival + delayMs,
    'to' in dest
      ? { kind: 'forward', to: dest.to, ...held }
      : { kind: 'deliver', client: dest.client.slice(), ...held },
  );
}

export interface SchedulerClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

const realClock: SchedulerClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return t;
  },
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class DelayScheduler<T> {
  private due: number[] = [];
  private seq: number[] = [];
  private items: T[] = [];
  private nextSeq = 0;
  private timer: unknown = undefined;
  /** Deadline the armed timer was set for (Infinity when none). */
  private armedFor = Infinity;
  private closed = false;

  constructor(
    /** Called once per item when its deadline has passed; must not throw (exceptions are swallowed). */
    private readonly onDue: (item: T, dueMs: number) => void,
    private readonly clock: SchedulerClock = realClock,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** Whether a timer is currently armed (for tests: there is at most one). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Holds `item` until `dueMs` (performance.now() clock); a past deadline fires on the next timer tick. */
  schedule(dueMs: number, item: T): void {
    if (this.closed) return;
    this.push(dueMs, item);
    if (dueMs < this.armedFor) this.arm();
  }

  /** Stops the timer and returns every held item (the caller counts them). */
  close(): T[] {
    this.closed = true;
    this.disarm();
    const rest = this.items;
    this.due = [];
    this.seq = [];
    this.items = [];
    return rest;
  }

  private arm(): void {
    this.disarm();
    if (this.items.length === 0) return;
    const deadline = this.due[0]!;
    this.armedFor = deadline;
    const wait = Math.max(0, Math.ceil(deadline - this.clock.now()));
    this.timer = this.clock.setTimer(() => this.fire(), wait);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    while (this.items.length > 0 && this.due[0]! <= now) {
      const dueMs = this.due[0]!;
      const item = this.pop();
      try {
        this.onDue(item, dueMs);
      } catch {
        // The packet path never throws; a throwing consumer is a bug reported by its own counters.
      }
      if (this.closed) return;
    }
    this.arm();
  }

  // ---- binary heap over parallel arrays ---------------------------------------------------------------

  private less(i: number, j: number): boolean {
    const a = this.due[i]!,
      b = this.due[j]!;
    return a < b || (a === b && this.seq[i]! < this.seq[j]!);
  }

  private swap(i: number, j: number): void {
    const d = this.due[i]!,
      s = this.seq[i]!,
      it = this.items[i]!;
    this.due[i] = this.due[j]!;
    this.seq[i] = this.seq[j]!;
    this.items[i] = this.items[j]!;
    this.due[j] = d;
    this.seq[j] = s;
    this.items[j] = it;
  }

  private push(dueMs: number, item: T): void {
    this.due.push(dueMs);
    this.seq.push(this.nextSeq++);
    this.items.push(item);
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private pop(): T {
    const top = this.items[0]!;
    const last = this.items.length - 1;
    this.swap(0, last);
    this.due.pop();
    this.seq.pop();
    this.items.pop();
    let i = 0;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
