/** `sim entropy`: one Poisson mix, entropy of outgoing messages by Loopix equation (5). */
import { describe, expect, it } from 'vitest';
import { entropyLimit, entropyStep, simulateEntropy, simulateEntropyExplicit } from '../src/sim/entropy.js';
import { deriveSeed, Rng } from '../src/util/random.js';
import { summarize } from '../src/sim/stats.js';

const runs = (f: (rng: Rng) => number, n: number, seed: number) =>
  summarize(Array.from({ length: n }, (_, i) => f(new Rng(deriveSeed(seed, i)))));

describe('sim entropy', () => {
  it('equation (5) equals the entropy of the outgoing message computed from the full input distribution', () => {
    // Explicit bookkeeping (Theorem 1): the pool's total weight per input; a departure carries the pool average.
    const rng = new Rng(11);
    let pool = new Map<number, number>();
    let size = 0;
    let input = 0;
    let k = 0;
    let l = 0;
    let h = 0;
    for (let step = 0; step < 400; step++) {
      if (size === 0 || rng.random() < 0.55) {
        pool.set(input++, 1);
        size++;
        k++;
        continue;
      }
      const out = [...pool.values()].map((w) => w / size);
      const direct = -out.reduce((s, p) => s + (p > 0 ? p * Math.log2(p) : 0), 0);
      h = entropyStep(k, l, h);
      expect(h).toBeCloseTo(direct, 9);
      pool = new Map([...pool].map(([i, w]) => [i, (w * (size - 1)) / size]));
      size--;
      l = size;
      k = 0;
    }
  });

  it('grows with the pool size λ/µ: with the traffic rate and with the mean delay', () => {
    const h = (lambda: number, mu: number) => runs((rng) => simulateEntropy({ lambda, mu }, rng), 5, 1).mean;
    expect(h(300, 2)).toBeGreaterThan(h(100, 2) + 1);
    expect(h(100, 0.2)).toBeGreaterThan(h(100, 2) + 3);
    expect(h(100, 200)).toBeLessThan(h(100, 20));
  });

  it('approaches the large-pool limit log2(e·λ/µ) when the pool is large', () => {
    const s = runs((rng) => simulateEntropy({ lambda: 200, mu: 0.2 }, rng), 5, 2);
    expect(Math.abs(s.mean - entropyLimit(200, 0.2))).toBeLessThan(0.03);
  });

  it('gives the same entropy from the jump chain as from explicit Exp(µ) delays (memorylessness)', () => {
    const chain = runs((rng) => simulateEntropy({ lambda: 100, mu: 5 }, rng), 20, 3);
    const explicit = runs((rng) => simulateEntropyExplicit({ lambda: 100, mu: 5 }, rng), 20, 4);
    expect(Math.abs(chain.mean - explicit.mean)).toBeLessThan(4 * Math.hypot(chain.se, explicit.se) + 1e-3);
  });

  it('replays exactly with the same seed and differs with another', () => {
    const a = simulateEntropy({ lambda: 100, mu: 20 }, new Rng(5));
    expect(simulateEntropy({ lambda: 100, mu: 20 }, new Rng(5))).toBe(a);
    expect(simulateEntropy({ lambda: 100, mu: 20 }, new Rng(6))).not.toBe(a);
  });
});
