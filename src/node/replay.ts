/**
 * Replay filter (Sphinx, Danezis–Goldberg 2009 §3; docs/pipeline.md "replay"). Every successful unwrap
 * yields a 32-byte replay tag derived from the hop's shared secret; the same packet replayed to the same
 * node under the same key gives the same tag, and is dropped ("replay").
 *
 * This version is in memory and bounded: per key epoch, an insertion-ordered Set of the first 16 bytes of
 * each tag (128 bits: a false positive needs a 2^-64 birthday collision even at 2^32 tags, i.e. never).
 * At `capacity` tags the OLDEST tag is evicted (FIFO) and counted ("replay_evicted"), so a replay of a
 * packet older than the last `capacity` packets is not caught: capacity / line rate is the protected
 * window (the default 2^20 tags ≈ 50 s at 20 000 packets/s, ~100 MB). Issue 6 replaces this with a
 * persistent filter sized from the line rate (a Bloom filter per key epoch) that survives restarts.
 */

/** Default number of tags remembered per epoch. */
export const DEFAULT_REPLAY_CAPACITY = 1 << 20;
/** Bytes of the tag used as the key. */
const KEY_BYTES = 16;

export class ReplayFilter {
  private readonly epochs = new Map<number, Set<string>>();
  /** Tags evicted because the filter was full (each weakens replay protection for that packet). */
  evicted = 0;

  constructor(readonly capacity: number = DEFAULT_REPLAY_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`replay capacity must be a positive integer, got ${capacity}`);
  }

  /** Records `tag` for `epoch`; returns false when it was already there (a replay). Never throws. */
  check(epoch: number, tag: Uint8Array): boolean {
    let set = this.epochs.get(epoch);
    if (set === undefined) {
      set = new Set();
      this.epochs.set(epoch, set);
    }
    // latin1 maps each byte to one UTF-16 unit: a compact 16-character key.
    const key = Buffer.from(tag.buffer, tag.byteOffset, Math.min(KEY_BYTES, tag.length)).toString('latin1');
    if (set.has(key)) return false;
    if (set.size >= this.capacity) {
      const oldest = set.values().next().value as string;
      set.delete(oldest);
      this.evicted++;
    }
    set.add(key);
    return true;
  }

  /** Forgets every epoch except those listed (after a key rotation, issue 6). */
  retainEpochs(epochs: readonly number[]): void {
    for (const e of [...this.epochs.keys()]) if (!epochs.includes(e)) this.epochs.delete(e);
  }

  size(epoch: number): number {
    return this.epochs.get(epoch)?.size ?? 0;
  }
}
