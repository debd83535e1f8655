/**
 * analyzeMixing (src/mixing/analysis.ts) on synthetic samples from a seeded generator: M/M/∞ mixes with
 * Poisson input, Gamma loop latencies and a Poisson client pass every check (p > 1e-3); a timed (batching)
 * mix, loops with one delayed hop too many, and a client that sends faster while busy fail theirs (p < 1e-6).
 */
import { describe, expect, it } from 'vitest';
import { analyzeMixing, gapsWithin, thin, type NodeSamples, type ProbeClientSamples } from '../src/mixing/analysis.js';
import { formatMixing } from '../src/mixing/format.js';
import { backlogPackets } from '../src/testnet/mixing-check.js';
import { Rng } from '../src/util/random.js';

const MU = 2;
const LAYERS = 3;
const T0 = 1_700_000_000_000; // wall-clock ms
const WINDOW_S = 600;
const W0 = T0 + 10_000;
const W1 = W0 + WINDOW_S * 1000;

/** Times of a Poisson process of `rate` /s over [from, to] ms. */
function poissonTimes(rng: Rng, rate: number, from: number, to: number): number[] {
  const t: number[] = [];
  for (let x = from + rng.exp(rate) * 1000; x < to; x += rng.exp(rate) * 1000) t.push(x);
  return t;
}

/** The size of the pool at each sample time, given each packet's [entry, departure]. */
function poolAt(stays: [number, number][], times: number[]): [number, number][] {
  const events: [number, number][] = [];
  for (const [a, d] of stays) events.push([a, +1], [d, -1]);
  events.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  let i = 0,
    n = 0;
  for (const t of times) {
    while (i < events.length && events[i]![0] <= t) n += events[i++]![1];
    out.push([t, n]);
  }
  return out;
}

/**
 * One mix over [T0, W1 + 20 s]: Poisson(λ) entries; `hold` gives each packet's departure. Samples at Poisson
 * times (mean 100 ms), as the node's probe takes them.
 */
function mix(rng: Rng, name: string, lambda: number, hold: (arrival: number) => number): NodeSamples {
  const enter = poissonTimes(rng, lambda, T0, W1 + 20_000);
  const stays = enter.map((a) => [a, hold(a)] as [number, number]);
  const depart = stays.map((s) => s[1]).sort((a, b) => a - b);
  const pool = poolAt(stays, poissonTimes(rng, 10, T0, W1 + 20_000));
  return { name, role: 'mix', layer: 1, pool, enter, depart, loops: [], overflow: 0 };
}

const expDelay = (rng: Rng) => (a: number) => a + rng.exp(MU) * 1000;

/** Loops of one node: sent at λM = 1/s, round trip = the sum of `hops` Exp(µ) delays plus 2 ms. */
function loops(rng: Rng, hops: number): [number, number][] {
  return poissonTimes(rng, 1, T0, W1).map((sent) => {
    let rtt = 2;
    for (let h = 0; h < hops; h++) rtt += rng.exp(MU) * 1000;
    return [sent, rtt];
  });
}

function client(rng: Rng, idleRate: number, busyRate: number): ProbeClientSamples {
  const switchMs = (W0 + W1) / 2;
  return {
    sends: [...poissonTimes(rng, idleRate, T0, switchMs), ...poissonTimes(rng, busyRate, switchMs, W1 + 5000)],
    switchMs,
    backlogPackets: 400,
    backlogLeft: 10,
    expectedRatePerS: 3,
  };
}

function network(rng: Rng, o: { timed?: boolean; loopHops?: number; busyRate?: number } = {}) {
  const nodes: NodeSamples[] = [3.5, 4.5, 6, 9, 9, 12].map((lambda, i) =>
    // A timed mix flushes everything it holds every 500 ms: the same mean delay, but neither a Poisson pool
    // nor a Poisson output.
    mix(rng, `mix-${i}`, lambda, o.timed && i % 2 === 0 ? (a) => (Math.floor(a / 500) + 1) * 500 : expDelay(rng)),
  );
  const withLoops = nodes.map((n) => ({ ...n, loops: loops(rng, o.loopHops ?? LAYERS) }));
  withLoops.push({
    name: 'provider-0',
    role: 'provider',
    layer: 0,
    pool: [],
    enter: [],
    depart: [],
    loops: loops(rng, o.loopHops ?? LAYERS),
    overflow: 0,
  });
  return analyzeMixing({
    mu: MU,
    layers: LAYERS,
    windowStartMs: W0,
    windowEndMs: W1,
    collectedAtMs: W1 + 30_000,
    nodes: withLoops,
    client: client(rng, 3, o.busyRate ?? 3),
  });
}

describe('analyzeMixing', () => {
  it('passes an M/M/∞ network with Poisson input, Gamma(L, µ) loops and a Poisson client', () => {
    const m = network(new Rng(1));
    expect(m.failed).toEqual([]);
    expect(m.passed).toBe(true);
    for (const p of [m.pool_p, m.output_exp_p, m.latency_gamma_p, m.client_indist_p]) expect(p).toBeGreaterThan(1e-3);
    expect(Math.abs(m.pool_mean! - m.pool_expected!)).toBeLessThan(0.05 * m.pool_expected!);
    // λ/µ averaged over the mixes (3.5 + 4.5 + 6 + 9 + 9 + 12) / 6 / 2 = 3.667
    expect(m.pool_expected).toBeCloseTo(3.667, 0);
    expect(m.latency_expected_s).toBe(1.5);
    expect(m.latency_mean_s).toBeCloseTo(1.5, 1);
    expect(m.latency_samples).toBeGreaterThan(3500);
    expect(m.pool_chi2.thinning_s).toBe(1.5);
    expect(m.pool_chi2.samples).toBeGreaterThan(6 * 350);
    expect(m.per_node['mix-5']!.lambda_in_per_s).toBeCloseTo(12, 0);
    expect(m.per_node['mix-5']!.output_exp_p).toBeGreaterThan(1e-4);
    expect(m.per_node['provider-0']!.output_gaps).toBe(0);
    // No timer here: sub-0.1 ms gaps as often as Exp(λ) has them (≈ 0.08 %).
    expect(m.output_tick_gaps.expected).toBeCloseTo(0.0008, 3);
    expect(m.output_tick_gaps.observed).toBeLessThan(0.003);
    expect(m.client!.expected_rate_per_s).toBe(3);
    const text = formatMixing(m);
    expect(text).toMatch(/pool size mean 3\.\d+ vs λ\/µ = 3\.\d+/);
    expect(text).toContain('all checks passed');
    expect(text).not.toContain('FAIL');
  });

  it('fails a timed mix (batches every 500 ms): pool and output are not those of a Poisson mix', () => {
    const m = network(new Rng(2), { timed: true });
    expect(m.pool_p).toBeLessThan(1e-6);
    expect(m.output_exp_p).toBeLessThan(1e-6);
    expect(m.per_node['mix-0']!.output_exp_p).toBeLessThan(1e-6);
    expect(m.passed).toBe(false);
    expect(m.failed).toEqual(expect.arrayContaining(['pool_p', 'output_exp_p']));
    expect(formatMixing(m)).toMatch(/FAIL pool size ~ Poisson/);
  });

  it('fails loops that cross one delayed hop more than the model says', () => {
    const m = network(new Rng(3), { loopHops: LAYERS + 1 });
    expect(m.latency_gamma_p).toBeLessThan(1e-6);
    expect(m.failed).toContain('latency_gamma_p');
  });

  it('fails a client whose send rate rises when it has real messages (observable sender)', () => {
    const m = network(new Rng(4), { busyRate: 4 });
    expect(m.client_indist_p).toBeLessThan(1e-6);
    expect(m.failed).toEqual(['client_indist_p']);
  });

  it('fails a pool mean off by more than 10 % and reports probe overflow', () => {
    const rng = new Rng(5);
    // Packets held 1.5 × as long as the drawn Exp(µ) delay: the mean pool is 50 % above λ/µ.
    const slow = mix(rng, 'slow', 8, (a) => a + rng.exp(MU / 1.5) * 1000);
    const m = analyzeMixing({
      mu: MU,
      layers: LAYERS,
      windowStartMs: W0,
      windowEndMs: W1,
      collectedAtMs: W1 + 30_000,
      nodes: [{ ...slow, overflow: 3 }],
    });
    expect(m.pool_mean! / m.pool_expected!).toBeGreaterThan(1.3);
    expect(m.failed).toEqual(expect.arrayContaining(['pool_mean', 'overflow']));
    expect(m.client).toBeNull();
  });

  it('leaves out loops sent too late to be back by the end (no censoring towards short round trips)', () => {
    const rng = new Rng(6);
    const n: NodeSamples = {
      name: 'm',
      role: 'mix',
      layer: 1,
      pool: [],
      enter: [],
      depart: [],
      loops: loops(rng, LAYERS),
      overflow: 0,
    };
    const m = analyzeMixing({
      mu: MU,
      layers: LAYERS,
      windowStartMs: W0,
      windowEndMs: W1,
      collectedAtMs: W1 + 2_000,
      nodes: [n],
    });
    // Gamma(3, 2) has 1e-6 left beyond ≈ 10.1 s: loops sent in the last ≈ 8 s of the window are not counted.
    const inWindow = n.loops.filter(([s]) => s >= W0 && s <= W1).length;
    const counted = m.latency_samples;
    expect(inWindow - counted).toBeGreaterThan(3);
    expect(inWindow - counted).toBeLessThan(20);
  });
});

describe('helpers', () => {
  it('thin keeps samples at least the spacing apart, first of each run', () => {
    expect(
      thin(
        [
          [0, 1],
          [500, 2],
          [1600, 3],
          [1700, 4],
          [3300, 5],
        ],
        1500,
      ),
    ).toEqual([
      [0, 1],
      [1600, 3],
      [3300, 5],
    ]);
  });
  it('gapsWithin takes the gaps between consecutive times inside the window only', () => {
    expect(gapsWithin([5, 1, 12, 30, 14], 2, 20)).toEqual([7, 2]);
  });
  it('backlogPackets covers λP·t with room for Poisson fluctuation', () => {
    expect(backlogPackets(1, 28.75)).toBe(45); // 28.75 + 3·√28.75 = 44.8
    expect(backlogPackets(1, 1000)).toBe(1200); // 1.2 × dominates for long windows
    expect(backlogPackets(1, 0)).toBe(0);
  });
});
