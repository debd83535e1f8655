/**
 * The fuzzer's random source is the project's seeded PRNG (src/util/random.ts, xoshiro128**): fast, seedable,
 * reproducible. The fuzzer needs speed and replayability, not secrecy.
 */
import { Rng as SeededRng } from '../util/random.js';

/** What the fuzz targets draw from. */
export interface Rng {
  /** Uniform integer in [0, n) (0 when n ≤ 1). */
  int(n: number): number;
  /** n pseudo-random bytes. */
  bytes(n: number): Uint8Array;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** true with probability p. */
  chance(p: number): boolean;
}

export function makeRng(seed: number): Rng {
  return new SeededRng(seed);
}

export const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function fromHex(name: string, v: unknown): Uint8Array {
  if (typeof v !== 'string' || !/^([0-9a-f]{2})*$/i.test(v)) throw new TypeError(`${name} must be a hex string`);
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

/** Byte-level mutations of a buffer (a copy; `base` is not changed). */
export function mutateBytes(rng: Rng, base: Uint8Array): Uint8Array {
  const p = base.slice();
  if (p.length === 0) return rng.bytes(1 + rng.int(16));
  switch (rng.int(6)) {
    case 0: // one bit
      p[rng.int(p.length)]! ^= 1 << rng.int(8);
      return p;
    case 1: // a few random bytes
      for (let k = 1 + rng.int(8); k > 0; k--) p[rng.int(p.length)] = rng.int(256);
      return p;
    case 2: // truncate
      return p.subarray(0, rng.int(p.length));
    case 3: {
      // extend
      const out = new Uint8Array(p.length + 1 + rng.int(64));
      out.set(p);
      out.set(rng.bytes(out.length - p.length), p.length);
      return out;
    }
    case 4: // a region overwritten with an interesting constant
      p.fill(rng.pick([0x00, 0xff, 0x7f, 0x80]), rng.int(p.length), rng.int(p.length + 1));
      return p;
    default: // the first (type / version) byte
      p[0] = rng.int(256);
      return p;
  }
}
