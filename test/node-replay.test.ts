/**
 * The replay filter's typed-array hash table (src/node/replay.ts) against a plain reference model: the same
 * answers, the same FIFO evictions, through growth, wrap-around of the ring and deletions inside probe runs.
 */
import { describe, expect, it } from 'vitest';
import { ReplayFilter } from '../src/node/replay.js';

/** Reference: an insertion-ordered Set with FIFO eviction at capacity. */
class Reference {
  private readonly set = new Set<string>();
  evicted = 0;
  constructor(private readonly capacity: number) {}
  check(tag: Uint8Array): boolean {
    const key = Buffer.from(tag.subarray(0, 16)).toString('hex');
    if (this.set.has(key)) return false;
    if (this.set.size >= this.capacity) {
      this.set.delete(this.set.values().next().value as string);
      this.evicted++;
    }
    this.set.add(key);
    return true;
  }
  get size(): number {
    return this.set.size;
  }
}

/** A deterministic generator, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('replay filter (typed hash table)', () => {
  for (const capacity of [1024, 1500, 4096]) {
    it(`matches a FIFO reference model at capacity ${capacity}, with repeats, evictions and clustered hashes`, () => {
      const random = rng(capacity);
      const filter = new ReplayFilter(capacity);
      const ref = new Reference(capacity);
      const seen: Uint8Array[] = [];
      for (let i = 0; i < 30_000; i++) {
        let tag: Uint8Array;
        if (seen.length > 0 && random() < 0.3) {
          // A repeat of a recent or an old tag (the old ones may have been evicted).
          tag = seen[Math.floor(random() * seen.length)]!;
        } else {
          tag = new Uint8Array(32);
          for (let k = 0; k < 32; k++) tag[k] = Math.floor(random() * 256);
          // Every fourth tag shares its low hash bits with others: long probe runs, deletions inside them.
          if (i % 4 === 0) tag[0] = tag[1] = 0;
          seen.push(tag);
          if (seen.length > 3 * capacity) seen.splice(0, capacity);
        }
        expect(filter.check(7, tag)).toBe(ref.check(tag));
      }
      expect(filter.evicted).toBe(ref.evicted);
      expect(filter.size(7)).toBe(ref.size);
    });
  }

  it('reads the tag in place from a record buffer (checkAt) exactly as check() does', () => {
    const f = new ReplayFilter(1024);
    const records = new Uint8Array(100);
    records.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 40);
    expect(f.checkAt(1, records, 40)).toBe(true);
    expect(f.check(1, records.subarray(40, 72))).toBe(false);
  });
});
