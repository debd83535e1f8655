/**
 * A Bloom filter over Sphinx replay tags (Bloom 1970; sizing as in Broder & Mitzenmacher, "Network
 * Applications of Bloom Filters", 2004). Tags are HKDF output (docs/packet-format.md §4), i.e. uniformly
 * random, so their own bits serve as the hash values: the i-th probe of a tag with 32-bit words w0, w1, w2 is
 * (w0 + i·w1 + i²·w2) mod m ("enhanced double hashing", Dillinger & Manolios 2004), which keeps the classic
 * false-positive rate (1 − e^(−k·n/m))^k.
 *
 * Memory is fixed at construction: m bits for a designed capacity n at a target false-positive rate p,
 * m = −n·ln p / (ln 2)², k = round(m/n · ln 2). At p = 10⁻⁶ that is 28.8 bits (3.6 bytes) per tag.
 *
 * The bits and the tag count live in SharedArrayBuffers, bits are set with an atomic test-and-set
 * (Atomics.or returns the old word) and one add is serialised with the adds that share its first probe by a
 * striped spin lock (LOCK_STRIPES words, Atomics.compareExchange), so any number of worker threads can share
 * one filter: of two threads adding the same tag at once, exactly one gets `true` (without the lock both
 * could flip some of the k bits and both call the tag fresh — a replay that passes once).
 */

/** Spin-lock stripes per filter (a tag's stripe is its first probe's word mod this). */
const LOCK_STRIPES = 1024;

/** Largest filter: 2^32 bits (512 MiB); larger configurations are refused at start-up. */
export const MAX_BLOOM_BITS = 2 ** 32;

export interface BloomSize {
  /** Bits (a multiple of 32). */
  readonly bits: number;
  /** Probes per tag. */
  readonly hashes: number;
}

/** The size for `capacity` tags at false-positive rate `fpRate` once full. */
export function bloomSize(capacity: number, fpRate: number): BloomSize {
  if (!(capacity >= 1) || !(fpRate > 0 && fpRate < 1))
    throw new RangeError(`bloom filter: capacity ${capacity} and fpRate ${fpRate} must be ≥ 1 and in (0, 1)`);
  const raw = Math.ceil((-capacity * Math.log(fpRate)) / Math.LN2 ** 2);
  const bits = Math.max(64, Math.ceil(raw / 32) * 32);
  if (bits > MAX_BLOOM_BITS)
    throw new RangeError(
      `bloom filter of ${capacity} tags at false-positive rate ${fpRate} needs ${bits} bits, more than ${MAX_BLOOM_BITS}`,
    );
  return { bits, hashes: Math.max(1, Math.round((bits / capacity) * Math.LN2)) };
}

/** The false-positive probability after `inserted` distinct tags: (1 − e^(−k·n/m))^k. */
export function bloomFalsePositiveRate(size: BloomSize, inserted: number): number {
  return (1 - Math.exp((-size.hashes * inserted) / size.bits)) ** size.hashes;
}

export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  /** The bit array, 32 bits per word, in a SharedArrayBuffer (persisted as is by src/node/replay-store.ts). */
  readonly words: Uint32Array;
  /**
   * [0]: tags added that were not (apparently) present — the n of the false-positive formula; [1 ..]: the
   * lock stripes. Shared.
   */
  readonly counter: Int32Array;

  /** `words`/`counter`: another thread's filter (shared), or a restored bit array (copied into shared memory). */
  constructor(size: BloomSize, words?: Uint32Array, counter?: Int32Array) {
    this.bits = size.bits;
    this.hashes = size.hashes;
    if (words && words.length !== size.bits / 32)
      throw new RangeError(`bloom filter: ${words.length} words for ${size.bits} bits`);
    if (words && words.buffer instanceof SharedArrayBuffer) this.words = words;
    else {
      this.words = new Uint32Array(new SharedArrayBuffer(size.bits / 8));
      if (words) this.words.set(words);
    }
    this.counter = counter ?? new Int32Array(new SharedArrayBuffer(4 * (1 + LOCK_STRIPES)));
  }

  /** Tags added (see `counter`). */
  get inserted(): number {
    return Atomics.load(this.counter, 0);
  }

  set inserted(n: number) {
    Atomics.store(this.counter, 0, n);
  }

  /** Empties the filter (benchmarks only: replay.unsafeResetWhenFull). */
  clear(): void {
    this.words.fill(0);
    this.inserted = 0;
  }

  /**
   * Adds the 16-byte tag at `bytes[offset..]` and returns true, or returns false when every probed bit was
   * already set (the tag was seen — or, with the stated probability, a false positive).
   */
  addAt(bytes: Uint8Array, offset: number): boolean {
    const w0 = word(bytes, offset),
      w1 = word(bytes, offset + 4),
      w2 = word(bytes, offset + 8);
    const m = this.bits;
    const words = this.words;
    let fresh = false;
    const lock = 1 + (((w0 % m) >>> 5) % LOCK_STRIPES);
    while (Atomics.compareExchange(this.counter, lock, 0, 1) !== 0) {
      // spin: held for k probes
    }
    for (let i = 0; i < this.hashes; i++) {
      // < 2^32 + 64·2^32 + 4096·2^32 < 2^53: exact in a double.
      const bit = (w0 + i * w1 + i * i * w2) % m;
      const w = bit >>> 5;
      const mask = 1 << (bit & 31);
      // Read first: most probes of a busy filter hit set bits, and a plain read is cheaper than an atomic RMW.
      if ((words[w]! & mask) === 0 && (Atomics.or(words, w, mask) & mask) === 0) fresh = true;
    }
    Atomics.store(this.counter, lock, 0);
    if (fresh) Atomics.add(this.counter, 0, 1);
    return fresh;
  }

  /** Whether the tag at `bytes[offset..]` is (apparently) present, without adding it. */
  hasAt(bytes: Uint8Array, offset: number): boolean {
    const w0 = word(bytes, offset),
      w1 = word(bytes, offset + 4),
      w2 = word(bytes, offset + 8);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (w0 + i * w1 + i * i * w2) % this.bits;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Little-endian uint32 at `o`. */
function word(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
