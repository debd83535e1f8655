/**
 * The project's one seedable PRNG, for the simulators (a sweep replays exactly with `--seed`) and the fuzzer
 * (a failing run replays with its seed); Math.random cannot be seeded. Never for keys or anything secret:
 * those come from the CSPRNG. xoshiro128** (Blackman & Vigna): 32-bit arithmetic only, fast in JavaScript, period 2^128 − 1, and
 * good enough for Monte-Carlo work (it passes BigCrush). Seeds are expanded with splitmix32 so that nearby
 * seeds give unrelated streams.
 */
import { randomBytes } from 'node:crypto';

/** splitmix32's finaliser: a bijective 32-bit mix, used to expand and combine seeds. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A seed for one repetition, derived from the run's seed and the repetition's coordinates (point index,
 * repetition index, …), so results do not depend on how repetitions are split across worker threads.
 */
export function deriveSeed(seed: number, ...coords: number[]): number {
  let h = mix32(seed >>> 0) ^ mix32(Math.floor(seed / 2 ** 32));
  for (const c of coords) h = mix32(h ^ mix32(c >>> 0));
  return h >>> 0;
}

/** A fresh seed from the OS: the default, so runs are random unless `--seed` asks for a replay. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => (s = mix32(s));
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n) (0 when n ≤ 1). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor(this.random() * n);
  }

  /** n pseudo-random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const x = this.nextU32();
      out[i] = x & 0xff;
      out[i + 1] = (x >>> 8) & 0xff;
      out[i + 2] = (x >>> 16) & 0xff;
      out[i + 3] = x >>> 24;
    }
    for (let x = this.nextU32(); i < n; i++, x >>>= 8) out[i] = x & 0xff;
    return out;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Exponentially distributed with the given rate (mean 1/rate). */
  exp(rate: number): number {
    return -Math.log(1 - this.random()) / rate;
  }

  /** Bernoulli(p). */
  chance(p: number): boolean {
    return this.random() < p;
  }

  /**
   * Poisson(mean), exactly: the number of events of a unit-rate Poisson process in [0, mean]. O(mean) time,
   * which is fine here (it only draws initial pool sizes, never inside an event loop).
   */
  poisson(mean: number): number {
    let n = 0;
    let t = this.exp(1);
    while (t <= mean) {
      n++;
      t += this.exp(1);
    }
    return n;
  }

  /** Geometric on {1, 2, …} with success probability p (mean 1/p). */
  geometric(p: number): number {
    if (p >= 1) return 1;
    return 1 + Math.floor(Math.log(1 - this.random()) / Math.log(1 - p));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
