/**
 * The client's Poisson streams, over simulated time (no wall-clock timing): rates, exponential gaps,
 * independence of the three streams, and the CSPRNG helpers.
 */
import { describe, expect, it } from 'vitest';
import { cryptoUniform, PoissonStream, randomIndex, sampleExp, SimulatedScheduler } from '../src/client/streams.js';

const T_S = 10_000; // simulated seconds

/** |x − mean| ≤ k·σ. */
function within(x: number, mean: number, sd: number, k = 5): void {
  expect(Math.abs(x - mean), `${x} vs ${mean} ± ${k}×${sd.toFixed(2)}`).toBeLessThanOrEqual(k * sd);
}

describe('Poisson streams over simulated time', () => {
  it('a stream at rate λ fires λ·T ± a few σ times in T simulated seconds', () => {
    for (const rate of [0.5, 1, 3]) {
      const sim = new SimulatedScheduler();
      let n = 0;
      const s = new PoissonStream({ name: 'x', rate, onEvent: () => n++, scheduler: sim });
      s.start();
      sim.advance(T_S * 1000);
      s.stop();
      within(n, rate * T_S, Math.sqrt(rate * T_S));
      expect(s.events).toBe(n);
    }
  });

  it('gaps between events are Exp(λ): mean 1/λ and P(gap > 1/λ) = 1/e', () => {
    const rate = 2;
    const sim = new SimulatedScheduler();
    const times: number[] = [];
    const s = new PoissonStream({ name: 'x', rate, onEvent: () => times.push(sim.now()), scheduler: sim });
    s.start();
    sim.advance(T_S * 1000);
    const gaps = times.slice(1).map((t, i) => (t - times[i]!) / 1000);
    const n = gaps.length;
    const mean = gaps.reduce((a, b) => a + b, 0) / n;
    within(mean, 1 / rate, 1 / rate / Math.sqrt(n));
    const over = gaps.filter((g) => g > 1 / rate).length / n;
    within(over, Math.exp(-1), Math.sqrt((Math.exp(-1) * (1 - Math.exp(-1))) / n));
    // Coefficient of variation of an exponential is 1.
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (n - 1));
    expect(sd / mean).toBeGreaterThan(0.93);
    expect(sd / mean).toBeLessThan(1.07);
  });

  it('three streams are independent: the total is λP+λL+λD and per-second counts are uncorrelated', () => {
    const rates = { p: 1, l: 2, d: 0.5 };
    const sim = new SimulatedScheduler();
    const bins = {
      p: new Array<number>(T_S).fill(0),
      l: new Array<number>(T_S).fill(0),
      d: new Array<number>(T_S).fill(0),
    };
    const streams = (Object.keys(rates) as (keyof typeof rates)[]).map(
      (k) =>
        new PoissonStream({
          name: k,
          rate: rates[k],
          scheduler: sim,
          onEvent: () => bins[k][Math.min(T_S - 1, Math.floor(sim.now() / 1000))]!++,
        }),
    );
    streams.forEach((s) => s.start());
    sim.advance(T_S * 1000);
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    const total = sum(bins.p) + sum(bins.l) + sum(bins.d);
    const lambda = rates.p + rates.l + rates.d;
    within(total, lambda * T_S, Math.sqrt(lambda * T_S));
    within(sum(bins.l), rates.l * T_S, Math.sqrt(rates.l * T_S));
    const corr = (a: number[], b: number[]) => {
      const ma = sum(a) / a.length,
        mb = sum(b) / b.length;
      let c = 0,
        va = 0,
        vb = 0;
      for (let i = 0; i < a.length; i++) {
        c += (a[i]! - ma) * (b[i]! - mb);
        va += (a[i]! - ma) ** 2;
        vb += (b[i]! - mb) ** 2;
      }
      return c / Math.sqrt(va * vb);
    };
    // Independent: correlation ~ N(0, 1/n).
    for (const [a, b] of [
      [bins.p, bins.l],
      [bins.p, bins.d],
      [bins.l, bins.d],
    ] as const)
      within(corr(a, b), 0, 1 / Math.sqrt(T_S));
    // Poisson counts per bin: variance equals the mean (index of dispersion 1).
    const m = sum(bins.l) / T_S;
    const v = bins.l.reduce((a, x) => a + (x - m) ** 2, 0) / (T_S - 1);
    expect(v / m).toBeGreaterThan(0.9);
    expect(v / m).toBeLessThan(1.1);
  });

  it('a stopped stream fires no more events; setRate changes the rate', () => {
    const sim = new SimulatedScheduler();
    let n = 0;
    const s = new PoissonStream({ name: 'x', rate: 5, onEvent: () => n++, scheduler: sim });
    s.start();
    sim.advance(100_000);
    s.stop();
    const before = n;
    sim.advance(100_000);
    expect(n).toBe(before);
    s.setRate(10);
    s.start();
    n = 0;
    sim.advance(1000 * 1000);
    within(n, 10 * 1000, Math.sqrt(10 * 1000));
  });

  it('an exception in the event handler is reported and the stream keeps going', () => {
    const sim = new SimulatedScheduler();
    const errors: unknown[] = [];
    const s = new PoissonStream({
      name: 'x',
      rate: 1,
      scheduler: sim,
      onEvent: () => {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    s.start();
    sim.advance(100_000);
    expect(errors.length).toBeGreaterThan(50);
    expect(errors.length).toBe(s.events);
  });

  it('rejects non-positive rates naming the stream', () => {
    expect(() => new PoissonStream({ name: 'loop', rate: 0, onEvent: () => {} })).toThrow(/loop rate/);
    expect(() => sampleExp(-1)).toThrow(RangeError);
  });
});

describe('CSPRNG helpers', () => {
  it('cryptoUniform is in (0, 1] with mean 1/2; sampleExp has mean 1/λ; randomIndex is uniform', () => {
    const n = 100_000;
    let sum = 0,
      sumExp = 0,
      outside = 0;
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const u = cryptoUniform();
      if (!(u > 0 && u <= 1)) outside++;
      sum += u;
      sumExp += sampleExp(4);
      counts[randomIndex(5)]!++;
    }
    expect(outside).toBe(0);
    within(sum / n, 0.5, Math.sqrt(1 / 12 / n));
    within(sumExp / n, 0.25, 0.25 / Math.sqrt(n));
    for (const c of counts) within(c, n / 5, Math.sqrt(n * 0.2 * 0.8));
  });
});
