/**
 * The fuzzer's random source: xoshiro128** (Blackman–Vigna) in 32-bit integer arithmetic — fast, seedable,
 * reproducible. The fuzzer needs speed and replayability, not secrecy (never use this for keys).
 */
export interface Rng {
  /** Uniform integer in [0, n) for n ≤ 2^32 (0 when n ≤ 1). */
  int(n: number): number;
  /** n pseudo-random bytes. */
  bytes(n: number): Uint8Array;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** true with probability p. */
  chance(p: number): boolean;
}

export function makeRng(seed: number): Rng {
  // SplitMix32 expands the seed into the four state words (never all zero).
  let z = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const split = (): number => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
    t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
    return (t ^ (t >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split() | 1;
  const next = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  const int = (n: number): number => (n <= 1 ? 0 : Math.floor((next() / 2 ** 32) * Math.min(Math.floor(n), 2 ** 32)));
  const bytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const x = next();
      out[i] = x & 0xff;
      out[i + 1] = (x >>> 8) & 0xff;
      out[i + 2] = (x >>> 16) & 0xff;
      out[i + 3] = x >>> 24;
    }
    for (let x = next(); i < n; i++, x >>>= 8) out[i] = x & 0xff;
    return out;
  };
  return {
    int,
    bytes,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number): boolean => next() / 2 ** 32 < p,
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
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
