/**
 * The testnet contract of issue 3, as a user runs it: `loopix testnet --duration S --json` starts the default
 * network (3 layers × 2 mixes, 2 providers, each its own process), sends for S seconds with default
 * parameters, drains, and ends with one JSON summary in which every real message arrived intact and at least
 * 99 % of loops returned.
 */
import { describe, expect, it } from 'vitest';
import { runTestnetCli } from './helpers/testnet-run.js';

describe('loopix testnet', () => {
  // Default settings, including the message interval: the demo traffic then fills half of the clients' λP
  // slots (messages and their SURB-acks; src/testnet/traffic.ts), about 10 messages in 20 s from 4 clients.
  // A faster interval overloads the λP streams by construction, and the backlog outlasts any drain.
  it('delivers every real message intact and gets ≥ 99 % of loops back on loopback with default settings', () => {
    const r = runTestnetCli(['--duration', '20', '--json'], { timeoutMs: 150_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const s = r.summary();
    const { loop_paths: _paths, directory: _directory, ...shown } = s;
    console.log(JSON.stringify(shown)); // what CI keeps of the run
    expect(s.nodes).toBe(8);
    expect(s.offered_load).toBeLessThan(1);
    expect(s.sent_real).toBeGreaterThanOrEqual(3); // Poisson with mean ≈ 10: fewer than 3 has probability < 0.1 %
    expect(s.delivered_real).toBe(s.sent_real);
    expect(s.delivered_intact).toBe(s.sent_real);
    expect(s.loops_sent).toBeGreaterThan(20);
    expect(s.loops_returned / s.loops_sent).toBeGreaterThanOrEqual(0.99);
    expect(s.drops_sent).toBeGreaterThan(20);
    // Drop-cover packets are discarded by their providers. The drain waits for loops, not for these: the last
    // few sent before the streams stopped may still be on their way when the nodes stop (like mix loops).
    expect(s.dropped.drop_cover).toBeGreaterThanOrEqual(0.99 * s.drops_sent);
    expect(s.dropped.drop_cover).toBeLessThanOrEqual(s.drops_sent);
    for (const k of ['p50', 'p99', 'mean']) expect(s.e2e_latency_ms[k]).toBeGreaterThan(0);
    expect(Object.values(s.node_exits)).toEqual(Array(11).fill(0)); // clean shutdown of 8 nodes and 3 authorities
  }, 160_000);
});
