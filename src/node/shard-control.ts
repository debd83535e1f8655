/**
 * The control block the main thread shares with the packet-path workers of the sharded path
 * (docs/pipeline.md "Sharded packet path"): one SharedArrayBuffer of int32 words, no messages per packet.
 *
 *   word 0            AQM drop probability p × 1e6 (main writes every aqm.intervalMs; workers read per batch)
 *   word 1            the current key epoch (main, every AQM interval): a packet whose epoch has no live
 *                     key is `key_expired` when it is behind it, else `wrong_epoch`; the link layer seals
 *                     with it
 *   word 2            largest per-hop delay, ms (main, from the topology; src/max-delay.ts)
 *   word 3            hard bound on the queueing delay, µs (arrivals that waited longer are `queue_full`)
 *   words 4 + 2i      worker i: longest queueing delay (µs) it saw since main last read it (worker raises it,
 *                     main swaps it to 0 when it reads: one compare-exchange loop per batch)
 *   words 5 + 2i      worker i: packets held in its delay stage (for the held-packet cap and the gauge)
 */

const P_SCALE = 1e6;
const W_P = 0;
const W_EPOCH = 1;
const W_MAX_DELAY_MS = 2;
const W_MAX_QUEUE_US = 3;
const W_WORKERS = 4;
const INT32_MAX = 0x7fff_ffff;

export class ShardControl {
  readonly buffer: SharedArrayBuffer;
  private readonly w: Int32Array;

  constructor(
    readonly workers: number,
    buffer?: SharedArrayBuffer,
  ) {
    this.buffer = buffer ?? new SharedArrayBuffer((W_WORKERS + 2 * workers) * 4);
    this.w = new Int32Array(this.buffer);
  }

  get probability(): number {
    return Atomics.load(this.w, W_P) / P_SCALE;
  }

  set probability(p: number) {
    Atomics.store(this.w, W_P, Math.round(Math.min(1, Math.max(0, p)) * P_SCALE));
  }

  get epoch(): number {
    return Atomics.load(this.w, W_EPOCH);
  }

  set epoch(e: number) {
    Atomics.store(this.w, W_EPOCH, e);
  }

  get epoch16(): number {
    return this.epoch & 0xffff;
  }

  /** Largest per-hop delay, µs (stored in ms: 2³¹ ms covers the header's whole uint32 µs range). */
  get maxDelayUs(): number {
    return Atomics.load(this.w, W_MAX_DELAY_MS) * 1000;
  }

  set maxDelayUs(us: number) {
    Atomics.store(this.w, W_MAX_DELAY_MS, Math.min(INT32_MAX, Math.floor(us / 1000)));
  }

  get maxQueueDelayMs(): number {
    return Atomics.load(this.w, W_MAX_QUEUE_US) / 1000;
  }

  set maxQueueDelayMs(ms: number) {
    Atomics.store(this.w, W_MAX_QUEUE_US, Math.min(INT32_MAX, Math.round(ms * 1000)));
  }

  /** Worker side: raises worker i's interval maximum of the queueing delay to `ms` if larger. */
  reportQueueDelay(i: number, ms: number): void {
    const us = Math.min(INT32_MAX, Math.round(ms * 1000));
    const at = W_WORKERS + 2 * i;
    for (;;) {
      const old = Atomics.load(this.w, at);
      if (us <= old || Atomics.compareExchange(this.w, at, old, us) === old) return;
    }
  }

  /** Main side: the largest queueing delay (ms) any worker saw since the last call; resets them. */
  takeQueueDelay(): number {
    let max = 0;
    for (let i = 0; i < this.workers; i++) max = Math.max(max, Atomics.exchange(this.w, W_WORKERS + 2 * i, 0));
    return max / 1000;
  }

  setHeld(i: number, n: number): void {
    Atomics.store(this.w, W_WORKERS + 2 * i + 1, n);
  }

  /** Packets held in every worker's delay stage. */
  get held(): number {
    let n = 0;
    for (let i = 0; i < this.workers; i++) n += Atomics.load(this.w, W_WORKERS + 2 * i + 1);
    return n;
  }
}
