/**
 * Unit behaviour of the node pipeline's stages: the delay scheduler (heap, one timer), the AQM controller,
 * the replay filter, the router's stratification rules and the loop monitor's (n-1) alarm.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AqmController, type AqmParams } from '../src/node/aqm.js';
import { LatencyHistogram } from '../src/node/metrics.js';
import { LoopMonitor, MIN_DUE_LOOPS, exponential } from '../src/node/loops.js';
import { ReplayFilter } from '../src/node/replay.js';
import { Router } from '../src/node/router.js';
import { DelayScheduler, type SchedulerClock } from '../src/node/scheduler.js';
import { TopologyIndex } from '../src/topology/document.js';
import type { SignedTopology } from '../src/topology/types.js';

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements SchedulerClock {
  t = 0;
  timers = new Map<number, { at: number; fn: () => void }>();
  armCount = 0;
  private nextId = 1;
  now = () => this.t;
  setTimer = (fn: () => void, ms: number) => {
    this.armCount++;
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimer = (h: unknown) => {
    this.timers.delete(h as number);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
  }
}

describe('delay scheduler', () => {
  it('releases items in deadline order, each no earlier than its deadline', () => {
    const clock = new FakeClock();
    const out: { item: number; at: number; due: number }[] = [];
    const s = new DelayScheduler<number>((item, due) => out.push({ item, at: clock.t, due }), clock);
    const deadlines = [50, 10, 30, 10, 70, 0, 20];
    deadlines.forEach((d, i) => s.schedule(d, i));
    clock.advance(100);
    expect(out.map((o) => o.item)).toEqual([5, 1, 3, 6, 2, 0, 4]); // ties (10, 10) leave in schedule order
    for (const o of out) expect(o.at).toBeGreaterThanOrEqual(o.due);
    expect(s.size).toBe(0);
  });

  it('keeps a single timer however many packets it holds', () => {
    const clock = new FakeClock();
    const s = new DelayScheduler<number>(() => {}, clock);
    for (let i = 0; i < 10_000; i++) s.schedule(1000 + ((i * 7919) % 5000), i);
    expect(clock.timers.size).toBe(1);
    expect(clock.armCount).toBe(1); // later deadlines never re-arm
    s.schedule(5, -1); // an earlier deadline re-arms the same single timer
    expect(clock.timers.size).toBe(1);
    clock.advance(3000);
    expect(clock.timers.size).toBe(1);
    clock.advance(10_000);
    expect(s.size).toBe(0);
    expect(clock.timers.size).toBe(0);
  });

  it('hands back what it still holds when closed', () => {
    const clock = new FakeClock();
    const s = new DelayScheduler<string>(() => {}, clock);
    s.schedule(10, 'a');
    s.schedule(20, 'b');
    expect(s.close().sort()).toEqual(['a', 'b']);
    expect(clock.timers.size).toBe(0);
  });

  it('a large random workload comes out sorted (heap property)', () => {
    const clock = new FakeClock();
    const out: number[] = [];
    const s = new DelayScheduler<number>((_, due) => out.push(due), clock);
    for (let i = 0; i < 5000; i++) s.schedule(Math.random() * 1000, i);
    clock.advance(2000);
    expect(out).toHaveLength(5000);
    for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]!);
  });
});

const AQM: AqmParams = { targetDelayMs: 10, intervalMs: 15, kp: 1.25, ki: 8, kd: 0, hardCapPackets: 100 };

describe('AQM controller (PID on queueing delay)', () => {
  it('keeps the drop probability at zero while the delay stays at or below target', () => {
    const a = new AqmController(AQM);
    for (let i = 0; i < 200; i++) a.update(i % 2 ? 10 : 3);
    expect(a.probability).toBe(0);
    expect(a.decide(50, 5, 0)).toBeNull();
  });

  it('raises the drop probability while the delay exceeds target, monotonically', () => {
    const a = new AqmController(AQM);
    let last = 0;
    for (let i = 0; i < 40; i++) {
      const p = a.update(60);
      expect(p).toBeGreaterThanOrEqual(last);
      last = p;
    }
    expect(last).toBeGreaterThan(0.1);
    // Sustained overload saturates at 1.
    for (let i = 0; i < 400; i++) a.update(200);
    expect(a.probability).toBe(1);
    expect(a.decide(1, 200, 0.999)).toBe('aqm');
  });

  it('lets the drop probability decay once the delay falls below target, back to zero', () => {
    const a = new AqmController(AQM);
    for (let i = 0; i < 200; i++) a.update(100);
    const high = a.probability;
    expect(high).toBeGreaterThan(0.5);
    a.update(2);
    expect(a.probability).toBeLessThan(high);
    let prev = a.probability;
    for (let i = 0; i < 100; i++) {
      a.update(0);
      expect(a.probability).toBeLessThanOrEqual(prev);
      prev = a.probability;
    }
    for (let i = 0; i < 2000; i++) a.update(0);
    expect(a.probability).toBeLessThan(0.001);
  });

  it('drops every arrival at the hard cap, whatever the probability', () => {
    const a = new AqmController(AQM);
    expect(a.probability).toBe(0);
    expect(a.decide(99, 0, 0.5)).toBeNull();
    expect(a.decide(100, 0, 0.5)).toBe('queue_full');
    expect(a.decide(1_000, 0, 0.5)).toBe('queue_full');
  });

  it('drops with probability p (and not under light load while p is small)', () => {
    const a = new AqmController(AQM);
    for (let i = 0; i < 3; i++) a.update(40);
    const p = a.probability;
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(0.2);
    expect(a.decide(10, 1, 0)).toBeNull(); // current delay < target/2 and p < 0.2: PIE's light-load guard
    expect(a.decide(10, 40, p / 2)).toBe('aqm');
    expect(a.decide(10, 40, Math.min(0.999, p * 1.5))).toBeNull();
  });
});

describe('replay filter', () => {
  // Real tags are HKDF output (uniformly random); a hash of n stands in for one.
  const tag = (n: number) => Uint8Array.from(createHash('sha256').update(`tag ${n}`).digest());

  it('accepts a tag once and reports every later sighting as a replay', () => {
    const f = new ReplayFilter(1024);
    expect(f.check(1, tag(1))).toBe(true);
    expect(f.check(1, tag(1))).toBe(false);
    expect(f.check(1, tag(1))).toBe(false);
    expect(f.check(1, tag(2))).toBe(true);
  });

  it('keeps epochs apart', () => {
    const f = new ReplayFilter(1024);
    expect(f.check(1, tag(5))).toBe(true);
    expect(f.check(2, tag(5))).toBe(true);
    f.retainEpochs([2]);
    expect(f.count(1)).toBe(0);
    expect(f.check(2, tag(5))).toBe(false);
  });

  it('never forgets a tag, even past its designed capacity (it reports full instead of evicting)', () => {
    const full: number[] = [];
    const f = new ReplayFilter({ capacity: 1024, onFull: (e) => full.push(e) });
    for (let i = 0; i < 1100; i++) f.check(0, tag(i));
    expect(full).toEqual([0]);
    for (let i = 0; i < 1100; i++) expect(f.check(0, tag(i))).toBe(false);
  });
});

describe('router (stratified topology)', () => {
  const id = (n: number) => n.toString(16).padStart(32, '0');
  const node = (n: number, role: 'mix' | 'provider', layer: number) => ({
    id: id(n),
    name: `n${n}`,
    role,
    layer,
    udp: { host: '127.0.0.1', port: 1000 + n },
    publicKey: '00'.repeat(32),
    ...(role === 'provider' ? { ws: 'ws://127.0.0.1:1' } : {}),
  });
  const doc = {
    version: 1,
    epoch: 1,
    issuedAt: '',
    geometry: { maxHops: 6, addressBytes: 16, contentBytes: 1024 },
    layers: 3,
    nodes: [node(1, 'provider', 0), node(2, 'mix', 1), node(3, 'mix', 2), node(4, 'mix', 3)],
    signature: { algorithm: 'ed25519', publicKey: '', value: '' },
  } as unknown as SignedTopology;
  const topology = new TopologyIndex(doc);
  const tag = new Uint8Array(32);
  const relay = (n: number) => ({
    kind: 'relay' as const,
    next: Buffer.from(id(n), 'hex'),
    delayUs: 5,
    replayTag: tag,
  });

  it('forwards only to the adjacent layer, provider → L1 → L2 → L3 → provider', () => {
    const routers = [0, 1, 2, 3].map(
      (layer) => new Router({ topology, role: layer === 0 ? 'provider' : 'mix', layer }),
    );
    expect(routers[0]!.route(relay(2))).toMatchObject({ kind: 'forward', delayUs: 5 });
    expect(routers[1]!.route(relay(3)).kind).toBe('forward');
    expect(routers[2]!.route(relay(4)).kind).toBe('forward');
    expect(routers[3]!.route(relay(1)).kind).toBe('forward');
    expect(routers[1]!.route(relay(4))).toEqual({ kind: 'drop', reason: 'bad_layer' });
    expect(routers[1]!.route(relay(1))).toEqual({ kind: 'drop', reason: 'bad_layer' });
    expect(routers[0]!.route(relay(3))).toEqual({ kind: 'drop', reason: 'bad_layer' });
    expect(routers[1]!.route(relay(99))).toEqual({ kind: 'drop', reason: 'unknown_next' });
  });

  it('delivers only at providers, drops cover, and refuses client-only commands at a node', () => {
    const mix = new Router({ topology, role: 'mix', layer: 2 });
    const provider = new Router({ topology, role: 'provider', layer: 0 });
    const deliver = { kind: 'deliver' as const, client: new Uint8Array(16), delayUs: 0, replayTag: tag };
    expect(mix.route(deliver)).toEqual({ kind: 'drop', reason: 'deliver_at_mix' });
    expect(provider.route(deliver).kind).toBe('deliver');
    expect(provider.route({ kind: 'drop', replayTag: tag })).toEqual({ kind: 'drop', reason: 'drop_cover' });
    expect(mix.route({ kind: 'final', id: new Uint8Array(16), content: new Uint8Array(0), replayTag: tag })).toEqual({
      kind: 'drop',
      reason: 'unexpected_final',
    });
    expect(mix.route({ kind: 'invalid', reason: 'mac' })).toEqual({ kind: 'drop', reason: 'invalid_mac' });
    expect(mix.route({ kind: 'loop', id: new Uint8Array(16), content: new Uint8Array(0), replayTag: tag }).kind).toBe(
      'loop',
    );
  });
});

describe('loop monitor ((n-1) detection, Loopix §4.2.1)', () => {
  const id = (n: number) => Uint8Array.of(n, 0, 0, 0);

  it('counts only loops that are due, and the fraction of those that returned', () => {
    const m = new LoopMonitor(10_000, 0.7);
    for (let i = 0; i < 10; i++) m.sent(id(i), i * 100, i * 100 + 3000);
    for (let i = 0; i < 8; i++) expect(m.returned(id(i), 2000 + i).kind).toBe('returned');
    expect(m.evaluate(2000).state).toMatchObject({ due: 0, fraction: null, alarm: false }); // none due yet
    const { state } = m.evaluate(5000);
    expect(state).toMatchObject({ due: 10, returned: 8, fraction: 0.8, alarm: false });
  });

  it('raises the alarm below the threshold r and clears it when loops return again', () => {
    const m = new LoopMonitor(10_000, 0.7);
    for (let i = 0; i < 10; i++) m.sent(id(i), i * 100, i * 100 + 1000);
    for (let i = 0; i < 5; i++) m.returned(id(i), 900);
    const first = m.evaluate(3000);
    expect(first.state).toMatchObject({ due: 10, returned: 5, fraction: 0.5, alarm: true });
    expect(first.changed).toBe(true);
    // The window slides: the lost loops leave it, new ones return.
    for (let i = 20; i < 40; i++) {
      m.sent(id(i), 12_000 + i, 13_000 + i);
      m.returned(id(i), 12_500 + i);
    }
    const later = m.evaluate(14_000);
    expect(later.state.alarm).toBe(false);
    expect(later.changed).toBe(true);
    expect(later.state.fraction).toBe(1);
  });

  it('needs a minimum number of due loops before it changes the alarm', () => {
    const m = new LoopMonitor(10_000, 0.7);
    for (let i = 0; i < MIN_DUE_LOOPS - 1; i++) m.sent(id(i), 0, 100);
    expect(m.evaluate(1000).state).toMatchObject({ fraction: 0, alarm: false });
  });

  it('tells unknown and duplicate loop ids apart from returns', () => {
    const m = new LoopMonitor(10_000, 0.7);
    m.sent(id(1), 0, 100);
    expect(m.returned(id(2), 50).kind).toBe('unknown');
    expect(m.returned(id(1), 50)).toEqual({ kind: 'returned', rttMs: 50 });
    expect(m.returned(id(1), 60).kind).toBe('duplicate');
  });

  it('draws Exp(λ) inter-arrival times with mean 1/λ', () => {
    let sum = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) sum += exponential(4);
    expect(sum / n).toBeGreaterThan(0.24);
    expect(sum / n).toBeLessThan(0.26);
  });
});

describe('latency histogram', () => {
  it('reports percentiles within one bucket (12 %) of the truth', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    expect(h.percentile(0.5)).toBeGreaterThanOrEqual(50);
    expect(h.percentile(0.5)).toBeLessThan(56);
    expect(h.snapshot().max_ms).toBe(100);
  });
});
