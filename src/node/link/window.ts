/**
 * The receiver's anti-replay window per peer (RFC 6479, "IPsec Anti-Replay Algorithm without Bit
 * Shifting"): a ring of W = 2048 bits indexed by sequence number mod W and the highest number accepted so
 * far. A datagram is accepted once: a number already marked is a replay; a number more than W − 32 below
 * the highest is too old to tell and is refused as a replay too (reordering on one link stays far below
 * 2,000 datagrams). Only datagrams whose tag verified reach the window, so forged datagrams cannot move it.
 *
 * State lives in a SharedArrayBuffer so any worker can check any peer; each peer's update holds a tiny
 * spin lock (Atomics.compareExchange) — contention is nil because the kernel steers one source address to
 * one SO_REUSEPORT socket, so one peer is normally handled by one thread.
 *
 * A node restart empties the windows: a datagram captured before it opens again — the Sphinx replay filter
 * (persistent, src/node/replay.ts) still drops its packet as `replay`.
 */

/** Window size, bits (RFC 6479's example size; a multiple of 32). */
export const WINDOW_BITS = 2048;
const WORDS = WINDOW_BITS / 32;
/** Per peer: top (int64), lock (int32), pad (int32), bitmap (WORDS × int32). */
const SLOT_BYTES = 16 + WINDOW_BITS / 8;
export const WINDOW_SLOT_BYTES = SLOT_BYTES;

export class LinkReplayWindows {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;

  constructor(slots: number, buffer?: SharedArrayBuffer) {
    if (buffer && buffer.byteLength !== slots * SLOT_BYTES) throw new RangeError(`link window buffer must be ${slots * SLOT_BYTES} bytes, got ${buffer.byteLength}`);
    this.buffer = buffer ?? new SharedArrayBuffer(slots * SLOT_BYTES);
    this.i32 = new Int32Array(this.buffer);
    this.i64 = new BigInt64Array(this.buffer);
  }

  /** Marks `seq` for peer `slot`; false when it was seen before or is too old (a replay). */
  check(slot: number, seq: bigint): boolean {
    const base32 = (slot * SLOT_BYTES) / 4;
    const lock = base32 + 2;
    while (Atomics.compareExchange(this.i32, lock, 0, 1) !== 0) {
      // spin: the critical section is a handful of operations
    }
    try {
      return this.update(slot, base32 + 4, seq);
    } finally {
      Atomics.store(this.i32, lock, 0);
    }
  }

  private update(slot: number, bitmap: number, seq: bigint): boolean {
    const topAt = (slot * SLOT_BYTES) / 8;
    const s = BigInt.asIntN(64, seq); // stored signed; sequence numbers stay below 2^63 (sequence.ts)
    const top = this.i64[topAt]!;
    const index = Number(seq & BigInt(WINDOW_BITS - 1));
    const word = index >>> 5;
    const mask = 1 << (index & 31);
    if (s > top) {
      // Clear the words between the old top's and the new top's (exclusive / inclusive), cyclically.
      const topWord = Number((top >> 5n) & BigInt(WORDS - 1));
      const gap = (s >> 5n) - (top >> 5n);
      const clear = top === 0n || gap >= BigInt(WORDS) ? WORDS : Number(gap);
      for (let k = 1; k <= clear; k++) this.i32[bitmap + ((topWord + k) % WORDS)] = 0;
      this.i64[topAt] = s;
      this.i32[bitmap + word] = this.i32[bitmap + word]! | mask;
      return true;
    }
    if (top - s >= BigInt(WINDOW_BITS - 32)) return false;
    const w = this.i32[bitmap + word]!;
    if ((w & mask) !== 0) return false;
    this.i32[bitmap + word] = w | mask;
    return true;
  }
}
