/**
 * The receiver's anti-replay window per peer (RFC 6479, "IPsec Anti-Replay Algorithm without Bit
 * Shifting"): a ring of W = 2048 bits indexed by sequence number mod W and the highest number accepted so
 * far. A datagram is accepted once: a number already marked is a replay; a number W − 32 or more below
 * the highest is too old to tell and is refused as a replay too (reordering on one link stays far below
 * 2,000 datagrams). Only datagrams whose tag verified reach the window, so forged datagrams cannot move it.
 *
 * State lives in a SharedArrayBuffer so any worker can check any peer; each peer's update holds a tiny
 * spin lock (Atomics.compareExchange). The sharded path spreads datagrams over the workers at random (a BPF
 * program on the SO_REUSEPORT group), so several threads may update one peer's window; the critical section is
 * a few word operations, so a thread that finds the lock taken spins for well under a microsecond.
 *
 * A node restart empties the windows: a datagram captured before it opens again — the Sphinx replay filter
 * (persistent, src/node/replay.ts) still drops its packet as `replay`.
 */

/** Window size, bits (RFC 6479's example size; a multiple of 32). */
export const WINDOW_BITS = 2048;
const WORDS = WINDOW_BITS / 32;
/** Per peer: top (two uint32 halves), lock (int32), "seen" flag (int32), bitmap (WORDS × int32). */
const SLOT_BYTES = 16 + WINDOW_BITS / 8;
export const WINDOW_SLOT_BYTES = SLOT_BYTES;

export class LinkReplayWindows {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;

  constructor(slots: number, buffer?: SharedArrayBuffer) {
    if (buffer && buffer.byteLength !== slots * SLOT_BYTES)
      throw new RangeError(`link window buffer must be ${slots * SLOT_BYTES} bytes, got ${buffer.byteLength}`);
    this.buffer = buffer ?? new SharedArrayBuffer(slots * SLOT_BYTES);
    this.i32 = new Int32Array(this.buffer);
  }

  /**
   * Marks sequence number hi·2^32 + lo (two uint32 halves: no BigInt on the packet path) for peer `slot`;
   * false when it was seen before or is too old (a replay).
   */
  check(slot: number, hi: number, lo: number): boolean {
    const base32 = (slot * SLOT_BYTES) / 4;
    const lock = base32 + 2;
    while (Atomics.compareExchange(this.i32, lock, 0, 1) !== 0) {
      // spin: the critical section is a handful of operations
    }
    try {
      return this.update(base32, hi >>> 0, lo >>> 0);
    } finally {
      Atomics.store(this.i32, lock, 0);
    }
  }

  /** The same for a BigInt sequence number. */
  checkBig(slot: number, seq: bigint): boolean {
    return this.check(slot, Number((seq >> 32n) & 0xffffffffn), Number(seq & 0xffffffffn));
  }

  private update(base32: number, hi: number, lo: number): boolean {
    // Per slot: words 0/1 = top (lo, hi as uint32 bits), 2 = lock, 3 = 1 once anything was accepted.
    const i32 = this.i32;
    const bitmap = base32 + 4;
    const topLo = i32[base32]! >>> 0;
    const topHi = i32[base32 + 1]! >>> 0;
    const seen = i32[base32 + 3] !== 0;
    const index = lo & (WINDOW_BITS - 1);
    const word = index >>> 5;
    const mask = 1 << (index & 31);
    // s − top as a double: exact while the halves differ by < 2^21 (far beyond the window); larger gaps only
    // need to compare as "larger than the window".
    const diff = (hi - topHi) * 4294967296 + (lo - topLo);
    if (!seen || diff > 0) {
      // Clear the words after the old top's up to the new top's, cyclically (all of them after a long jump).
      const topWord = (topLo & (WINDOW_BITS - 1)) >>> 5;
      // Whole 32-bit words between the two tops, from the halves (a double of the full 64-bit number would round).
      const gapWords = (hi - topHi) * 134217728 + ((lo >>> 5) - (topLo >>> 5));
      const clear = !seen || !(gapWords < WORDS) ? WORDS : gapWords;
      for (let k = 1; k <= clear; k++) i32[bitmap + ((topWord + k) % WORDS)] = 0;
      i32[base32] = lo | 0;
      i32[base32 + 1] = hi | 0;
      i32[base32 + 3] = 1;
      i32[bitmap + word] = i32[bitmap + word]! | mask;
      return true;
    }
    if (-diff >= WINDOW_BITS - 32) return false;
    const w = i32[bitmap + word]!;
    if ((w & mask) !== 0) return false;
    i32[bitmap + word] = w | mask;
    return true;
  }
}
