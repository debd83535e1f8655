/**
 * The node's mixing probe (src/node/mixing-probe.ts): wall-clock samples, take() hands over and forgets, the
 * per-report bound counts what it could not keep, and the pool is sampled at random (Poisson) times.
 */
import { describe, expect, it } from 'vitest';
import { MixingProbe, wallMs } from '../src/node/mixing-probe.js';
import { NodeConfigSchema } from '../src/config/schema.js';

describe('MixingProbe', () => {
  it('records entries, departures and loops as wall-clock ms and forgets them on take()', () => {
    const probe = new MixingProbe({ poolSize: () => 0, sampleIntervalMs: 100, maxPerReport: 100 });
    const arrival = performance.now() - 5;
    probe.entered(arrival);
    probe.departed();
    probe.loopReturned(1500);
    const before = Date.now();
    const r = probe.take();
    expect(r.enter).toHaveLength(1);
    expect(r.enter[0]).toBeCloseTo(wallMs(arrival), 2);
    expect(Math.abs(r.depart[0]! - before)).toBeLessThan(50); // the same clock as Date.now(), to a few ms
    expect(r.loops[0]![1]).toBe(1500);
    expect(r.depart[0]! - r.loops[0]![0]).toBeGreaterThan(1490);
    expect(r.overflow).toBe(0);
    const again = probe.take();
    expect([again.enter, again.depart, again.loops, again.pool]).toEqual([[], [], [], []]);
  });

  it('keeps at most maxPerReport of each kind between reports and counts the rest', () => {
    const probe = new MixingProbe({ poolSize: () => 0, sampleIntervalMs: 100, maxPerReport: 3 });
    for (let i = 0; i < 5; i++) probe.departed();
    const r = probe.take();
    expect(r.depart).toHaveLength(3);
    expect(r.overflow).toBe(2);
    expect(probe.take().overflow).toBe(0);
  });

  it('samples the pool at Exp-distributed intervals while started', async () => {
    let size = 0;
    const probe = new MixingProbe({ poolSize: () => ++size, sampleIntervalMs: 5, maxPerReport: 10_000 });
    probe.start();
    await new Promise((resolve) => setTimeout(resolve, 400));
    probe.stop();
    const { pool } = probe.take();
    expect(pool.length).toBeGreaterThan(20); // ≈ 400 / (5 + timer overhead)
    expect(pool.map((s) => s[1])).toEqual(pool.map((_, i) => i + 1));
    const gaps = pool.slice(1).map((s, i) => s[0] - pool[i]![0]);
    expect(new Set(gaps.map((g) => Math.round(g))).size).toBeGreaterThan(3); // not a fixed grid
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(probe.take().pool).toHaveLength(0); // stopped
  });

  it('is off in a default node config', () => {
    const c = NodeConfigSchema.parse({
      id: 'ab',
      keyFile: 'k',
      topologyFile: 't',
      authorityPublicKey: '00'.repeat(32),
    });
    expect(c.probe).toEqual({ mixing: false, sampleIntervalMs: 100, maxSamplesPerReport: 20_000 });
  });
});
