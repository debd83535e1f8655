/**
 * Replay filter (Sphinx, Danezis–Goldberg 2009 §3; docs/pipeline.md "replay"). Every successful unwrap
 * yields a 32-byte replay tag derived from the hop's shared secret; the same packet replayed to the same
 * node under the same key gives the same tag, and is dropped ("replay").
 *
 * This version is in memory and bounded: per key epoch, the first 16 bytes of each tag (128 bits: a false
 * positive needs a 2^-64 birthday collision even at 2^32 tags, i.e. never). At `capacity` tags the OLDEST tag
 * is evicted (FIFO) and counted ("replay_evicted"), so a replay of a packet older than the last `capacity`
 * packets is not caught: capacity / line rate is the protected window (the default 2^20 tags ≈ 65 s at
 * 16 000 packets/s). Issue 6 replaces this with a persistent filter sized from the line rate (a Bloom filter
 * per key epoch) that survives restarts.
 *
 * Representation (the relay's hot path: no allocation per packet): an open-addressing hash table of 128-bit
 * keys in a Uint32Array (linear probing, load ≤ 1/2, backward-shift deletion so there are no tombstones) and
 * a FIFO ring of the same keys in insertion order, both grown by doubling up to `capacity`. Tags are HKDF
 * output, i.e. uniformly random, so the first 32-bit word is the hash. Memory at the default capacity:
 * 16 B per ring entry + 32 B per table slot (≤ 48 MB per epoch when full, vs ~100 MB for a Set of strings).
 */

/** Default number of tags remembered per epoch. */
export const DEFAULT_REPLAY_CAPACITY = 1 << 20;
/** 32-bit words of the tag used as the key (16 bytes). */
const KEY_WORDS = 4;
const INITIAL_SLOTS = 1024;

/** One epoch's tags. Slot i holds words [4i, 4i+4) of `table`; `used[i]` says whether it is occupied. */
class TagSet {
  private table: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  /** FIFO of keys, `ringCap` entries, oldest at `head`. */
  private ring: Uint32Array;
  private ringCap: number;
  private head = 0;
  size = 0;

  constructor(private readonly capacity: number) {
    const slots = Math.min(INITIAL_SLOTS, nextPow2(2 * capacity));
    this.table = new Uint32Array(slots * KEY_WORDS);
    this.used = new Uint8Array(slots);
    this.mask = slots - 1;
    this.ringCap = Math.min(capacity, slots >> 1);
    this.ring = new Uint32Array(this.ringCap * KEY_WORDS);
  }

  /** Whether the key (k0..k3) is present. */
  private find(k0: number, k1: number, k2: number, k3: number): number {
    const t = this.table;
    let i = k0 & this.mask;
    while (this.used[i] === 1) {
      const b = i * KEY_WORDS;
      if (t[b] === k0 && t[b + 1] === k1 && t[b + 2] === k2 && t[b + 3] === k3) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  private insertSlot(k0: number, k1: number, k2: number, k3: number): void {
    const t = this.table;
    let i = k0 & this.mask;
    while (this.used[i] === 1) i = (i + 1) & this.mask;
    const b = i * KEY_WORDS;
    t[b] = k0;
    t[b + 1] = k1;
    t[b + 2] = k2;
    t[b + 3] = k3;
    this.used[i] = 1;
  }

  /** Removes the key in slot `i`, shifting later entries of its probe run back (no tombstones). */
  private removeSlot(i: number): void {
    const t = this.table, used = this.used, mask = this.mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (used[j] !== 1) break;
      const home = t[j * KEY_WORDS]! & mask;
      // Move j into the hole when its home slot is not cyclically within (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      t.copyWithin(hole * KEY_WORDS, j * KEY_WORDS, j * KEY_WORDS + KEY_WORDS);
      hole = j;
    }
    used[hole] = 0;
  }

  private grow(): void {
    // Table: double and re-insert (ring order is unaffected).
    const oldT = this.table, oldUsed = this.used;
    const slots = oldUsed.length * 2;
    this.table = new Uint32Array(slots * KEY_WORDS);
    this.used = new Uint8Array(slots);
    this.mask = slots - 1;
    for (let i = 0; i < oldUsed.length; i++) {
      if (oldUsed[i] !== 1) continue;
      const b = i * KEY_WORDS;
      this.insertSlot(oldT[b]!, oldT[b + 1]!, oldT[b + 2]!, oldT[b + 3]!);
    }
    // Ring: unroll into insertion order in a ring twice as large (capped at capacity).
    const newCap = Math.min(this.capacity, this.ringCap * 2);
    const ring = new Uint32Array(newCap * KEY_WORDS);
    for (let k = 0; k < this.size; k++) {
      const from = ((this.head + k) % this.ringCap) * KEY_WORDS;
      ring.set(this.ring.subarray(from, from + KEY_WORDS), k * KEY_WORDS);
    }
    this.ring = ring;
    this.ringCap = newCap;
    this.head = 0;
  }

  /**
   * Adds the key unless present. Returns 1 when added, 0 when it was already there, 2 when added after
   * evicting the oldest key.
   */
  add(k0: number, k1: number, k2: number, k3: number): 0 | 1 | 2 {
    if (this.find(k0, k1, k2, k3) >= 0) return 0;
    let evicted: 1 | 2 = 1;
    if (this.size === this.ringCap) {
      if (this.ringCap < this.capacity) this.grow();
      else {
        const b = this.head * KEY_WORDS;
        const r = this.ring;
        this.removeSlot(this.find(r[b]!, r[b + 1]!, r[b + 2]!, r[b + 3]!));
        this.head = (this.head + 1) % this.ringCap;
        this.size--;
        evicted = 2;
      }
    }
    this.insertSlot(k0, k1, k2, k3);
    const at = ((this.head + this.size) % this.ringCap) * KEY_WORDS;
    this.ring[at] = k0;
    this.ring[at + 1] = k1;
    this.ring[at + 2] = k2;
    this.ring[at + 3] = k3;
    this.size++;
    return evicted;
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class ReplayFilter {
  private readonly epochs = new Map<number, TagSet>();
  /** Tags evicted because the filter was full (each weakens replay protection for that packet). */
  evicted = 0;

  constructor(readonly capacity: number = DEFAULT_REPLAY_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`replay capacity must be a positive integer, got ${capacity}`);
  }

  /** Records `tag` for `epoch`; returns false when it was already there (a replay). Never throws. */
  check(epoch: number, tag: Uint8Array): boolean {
    const padded = tag.length >= 16 ? tag : Uint8Array.from({ length: 16 }, (_, i) => tag[i] ?? 0);
    return this.checkAt(epoch, padded, 0);
  }

  /**
   * The same for the 16 bytes at `bytes[offset..]` (the hot path reads the tag straight from a worker's
   * record buffer; the caller guarantees 16 bytes are there).
   */
  checkAt(epoch: number, bytes: Uint8Array, offset: number): boolean {
    let set = this.epochs.get(epoch);
    if (set === undefined) {
      set = new TagSet(this.capacity);
      this.epochs.set(epoch, set);
    }
    const r = set.add(word(bytes, offset), word(bytes, offset + 4), word(bytes, offset + 8), word(bytes, offset + 12));
    if (r === 2) this.evicted++;
    return r !== 0;
  }

  /** Forgets every epoch except those listed (after a key rotation, issue 6). */
  retainEpochs(epochs: readonly number[]): void {
    for (const e of [...this.epochs.keys()]) if (!epochs.includes(e)) this.epochs.delete(e);
  }

  size(epoch: number): number {
    return this.epochs.get(epoch)?.size ?? 0;
  }
}

/** Little-endian uint32 at `o` (no DataView per call). */
function word(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
