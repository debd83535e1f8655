/**
 * Per-peer link sequence numbers (the GCM nonce's unique part), in a SharedArrayBuffer so every thread that
 * sends on a link (the main thread today, each sending worker in a worker-per-socket design) takes numbers
 * from one counter with Atomics.add: no two datagrams of one directed link ever get the same number,
 * whichever thread sealed them.
 *
 * A counter starts at (Unix time in ms) · 2^20 when the node starts. A restarted node therefore continues
 * above every number its previous run used — so a (key, nonce) pair never repeats across restarts with a
 * static key — as long as the wall clock did not step back between the runs and the previous run sent fewer
 * than 2^20 datagrams per millisecond on one link on average (≈ 10^9 datagrams/s: far above any link). The
 * receiver's window (window.ts) accepts the jump.
 */

export const SEQUENCE_SLOT_BYTES = 8;

export class LinkSequences {
  readonly buffer: SharedArrayBuffer;
  private readonly counters: BigInt64Array;

  /** `slots` peers; pass `buffer` to share the counters of another thread. */
  constructor(slots: number, buffer?: SharedArrayBuffer, nowMs: number = Date.now()) {
    if (buffer && buffer.byteLength !== slots * SEQUENCE_SLOT_BYTES)
      throw new RangeError(
        `link sequence buffer must be ${slots * SEQUENCE_SLOT_BYTES} bytes, got ${buffer.byteLength}`,
      );
    this.buffer = buffer ?? new SharedArrayBuffer(slots * SEQUENCE_SLOT_BYTES);
    this.counters = new BigInt64Array(this.buffer);
    if (!buffer) this.counters.fill(BigInt(Math.floor(nowMs)) << 20n);
  }

  /** The next sequence number for peer `slot` (unique across threads). */
  next(slot: number): bigint {
    return BigInt.asUintN(64, Atomics.add(this.counters, slot, 1n));
  }
}
