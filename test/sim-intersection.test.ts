/** `sim intersection`: AnonPoP Appendix A, the sender–mailbox intersection attack with and without PEM. */
import { describe, expect, it } from 'vitest';
import { correspondents, simulateIntersection } from '../src/sim/intersection.js';
import { Rng } from '../src/util/random.js';

const base = { clients: 150, slots: 3000, recordEvery: 100, snapshots: [500, 3000] };

describe('sim intersection', () => {
  it('pairs every client with at least one correspondent, about two on average, never itself', () => {
    const adj = correspondents(501, new Rng(1));
    expect(adj.every((peers, c) => peers.length >= 1 && !peers.includes(c))).toBe(true);
    const mean = adj.reduce((n, p) => n + p.length, 0) / adj.length;
    expect(mean).toBeGreaterThan(1.9);
    expect(mean).toBeLessThan(2.1);
  });

  it('completes faster with fixed mailboxes than with per-epoch mailboxes', () => {
    const fixed = simulateIntersection({ ...base, epochSlots: null }, new Rng(2));
    const pem = simulateIntersection({ ...base, epochSlots: 180 }, new Rng(2));
    const at = (r: typeof fixed, slot: number) => r.completed[slot / base.recordEvery - 1]! / r.attacks;
    expect(at(fixed, 3000)).toBeGreaterThan(0.5);
    expect(at(pem, 3000)).toBeLessThan(at(fixed, 3000) / 5);
    // Completion only grows.
    expect(fixed.completed.every((c, i) => i === 0 || c >= fixed.completed[i - 1]!)).toBe(true);
  });

  it("shrinks the anonymity sets over time with fixed mailboxes but not below an epoch's worth with PEM", () => {
    const median = (h: number[]) => {
      const total = h.reduce((a, b) => a + b, 0);
      let acc = 0;
      return h.findIndex((c) => (acc += c) >= total / 2) / h.length;
    };
    const fixed = simulateIntersection({ ...base, epochSlots: null }, new Rng(3));
    const pem = simulateIntersection({ ...base, epochSlots: 180 }, new Rng(3));
    expect(median(fixed.histograms[1]!)).toBeLessThan(median(fixed.histograms[0]!));
    expect(median(pem.histograms[1]!)).toBeGreaterThan(median(fixed.histograms[1]!) + 0.1);
  });
});
