/**
 * Smoke runs of the single-node benchmarks through the real CLI (bin/loopix.js, real child processes) with
 * tiny durations: the JSON line carries every documented field with sensible values. No timing assertions:
 * performance targets live in docs/benchmarks.md, not in tests.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastJson, runBench } from './helpers/bench-run.js';
import { SHORT_RELAY_FLAGS } from './helpers/bench-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'loopix-bench-test-'));
/**
 * `loopix bench ARGS` as a child process (test/helpers/bench-run.ts). Each benchmark mostly waits (fixed step
 * lengths, drains, start-ups) and its assertions are about fields, not speed: a smoke run on half a loaded host
 * still passes --max-loss 0.5 at a few hundred packets/s.
 */
const run = runBench;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent('loopix bench relay / overload / cost / gate', () => {
  // The longest (four gate measurements) first, so that the shorter ones run beside it.
  it('gate writes a missing baseline, passes against a low one and fails (exit 1, one clear line) against a high one', async () => {
    const baseline = join(dir, 'baseline.json');
    const quick = [
      '--workers',
      '1',
      '--searches',
      '1',
      '--x25519-seconds',
      '0.5',
      '--openssl-seconds',
      '0',
      '--sphinx-seconds',
      '0.5',
      '--step-seconds',
      '0.4',
      '--max-steps',
      '2',
      '--start-rate',
      '300',
      '--max-loss',
      '0.5',
    ];
    const first = await run('gate', '--baseline', baseline, ...quick);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^bench gate: BASELINE WRITTEN/m);
    const written = JSON.parse(readFileSync(baseline, 'utf8'));
    expect(written.sphinx_unwrap_vs_x25519).toBeGreaterThan(0);
    expect(written.relay_vs_x25519).toBeGreaterThan(0);
    expect(written.measured.addon_x25519_per_s).toBeGreaterThan(0);

    writeFileSync(
      baseline,
      JSON.stringify({ sphinx_unwrap_vs_x25519: 0.001, relay_vs_x25519: 0.001, tolerance: 0.15 }),
    );
    const pass = await run('gate', '--json', '--baseline', baseline, ...quick);
    expect(pass.status, pass.stderr).toBe(0);
    expect(pass.stdout).toMatch(/^bench gate: PASS/m);
    expect(lastJson(pass.stdout).pass).toBe(true);

    writeFileSync(baseline, JSON.stringify({ sphinx_unwrap_vs_x25519: 100, relay_vs_x25519: 100, tolerance: 0.15 }));
    const fail = await run('gate', '--json', '--baseline', baseline, ...quick);
    expect(fail.status).toBe(1);
    expect(fail.stdout).toMatch(/^bench gate: FAIL: sphinx_unwrap_vs_x25519 .* < 85/m);
    const j = lastJson(fail.stdout);
    expect(j.pass).toBe(false);
    expect(j.attempts).toHaveLength(2); // a failing ratio is measured once more before the gate fails
  }, 240_000);

  it('relay --json reports the sustained rate, its loss, the per-hop overhead at 50 % load, CPU and workers', async () => {
    const r = await run(
      'relay',
      '--json',
      '--pipeline',
      'pool',
      '--workers',
      '1',
      '--step-seconds',
      '0.5',
      '--latency-seconds',
      '0.5',
      '--start-rate',
      '300',
      '--max-steps',
      '3',
      '--max-loss',
      '0.5',
      '--pool',
      '2048',
      '--openssl-seconds',
      '1',
      '--x25519-seconds',
      '0.5',
      '--searches',
      '1',
      '--results-dir',
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.max_pkt_per_s).toBeGreaterThan(0);
    expect(j.loss_at_max).toBeGreaterThanOrEqual(0);
    expect(j.loss_at_max).toBeLessThan(0.5); // --max-loss 0.5: a smoke test on a busy CI host, not a measurement
    expect(j.overhead_ms.p50).toBeGreaterThan(0);
    expect(j.overhead_ms.p99).toBeGreaterThanOrEqual(j.overhead_ms.p50);
    expect(j.cpu_cores_used).toBeGreaterThan(0);
    expect(j.workers).toBe(1);
    expect(j.overhead_by_load.map((p: { load: number }) => p.load)).toEqual([0.25, 0.5, 0.75, 0.8]);
    expect(j.addon_x25519_per_s).toBeGreaterThan(0);
    expect(j.relay_vs_x25519).toBeCloseTo(j.max_pkt_per_s / j.addon_x25519_per_s, 3);
    expect(j.search_max_pkt_per_s).toHaveLength(1);
    expect(j.pipeline).toBe('pool');
    expect(j.stall_at_half_load.stalls).toBeGreaterThanOrEqual(1);
    expect(j.stall_at_half_load.stall_ms).toBe(30);
    expect(j.main_cpu_us_per_packet).toBeGreaterThanOrEqual(0);
    expect(j.steps.length).toBeGreaterThan(0);
    expect(j.packet_bytes).toBe(1314);
    if (j.openssl_x25519_per_s !== null)
      expect(j.relay_vs_openssl).toBeCloseTo(j.max_pkt_per_s / j.openssl_x25519_per_s, 3);
    expect(existsSync(join(dir, 'relay.json'))).toBe(true);
    expect(readFileSync(join(dir, 'relay.svg'), 'utf8')).toMatch(/^<svg/);
  }, 180_000);

  it('relay --pipeline sharded --scaling reports the median of its searches, the main thread per packet and 2-vs-1 workers', async () => {
    const r = await run(
      'relay',
      '--json',
      '--pipeline',
      'sharded',
      '--workers',
      '2',
      '--scaling',
      '--searches',
      '2',
      ...SHORT_RELAY_FLAGS,
      '--x25519-seconds',
      '0.3',
      '--no-save',
    );
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.pipeline).toBe('sharded');
    expect(j.search_max_pkt_per_s).toHaveLength(2);
    expect(j.max_pkt_per_s).toBe([...j.search_max_pkt_per_s].sort((a: number, b: number) => a - b)[0]); // median of two: the lower
    expect(j.main_cpu_us_per_packet).toBeGreaterThanOrEqual(0);
    expect(j.scaling.workers).toBe(2);
    expect(j.scaling.one_worker_pkt_per_s).toBeGreaterThan(0);
  }, 240_000);

  it('overload --json reports goodput, queueing delay, memory and the AQM drop probability over time', async () => {
    const r = await run(
      'overload',
      '--json',
      '--workers',
      '1',
      '--max-rate',
      '400',
      '--seconds',
      '2',
      '--recovery-seconds',
      '0.5',
      '--pool',
      '4096',
      '--openssl-seconds',
      '0',
      '--results-dir',
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.max_sustained_source).toBe('given');
    expect(j.offered_pkt_per_s).toBe(800);
    expect(j.goodput_ratio).toBeGreaterThan(0);
    expect(j.queue_delay_ms_p99).toBeGreaterThan(0);
    expect(j.rss_mb_max).toBeGreaterThan(10);
    expect(j.timeline.length).toBeGreaterThan(2);
    for (const p of j.timeline) expect(p.aqm_p).toBeGreaterThanOrEqual(0);
    expect(j.recovery).toHaveProperty('recovered');
    expect(readFileSync(join(dir, 'overload.svg'), 'utf8')).toMatch(/^<svg/);
  }, 180_000);

  it('cost --json turns a relay rate into a cost per client per month under stated price assumptions', async () => {
    const r = await run('cost', '--json', '--max-rate', '12000', '--cores', '2', '--no-save');
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.per_client.packets_per_s).toBeCloseTo(0.5, 6);
    expect(j.per_client.unwraps_per_s).toBeCloseTo(3, 6);
    expect(j.scenarios.length).toBeGreaterThanOrEqual(2);
    for (const s of j.scenarios) {
      expect(s.clients_per_instance).toBe(Math.floor((0.5 * 6000 * 2) / 3));
      expect(s.total_usd_per_client_month).toBeCloseTo(
        s.compute_usd_per_client_month + s.bandwidth_usd_per_client_month,
        4,
      );
    }
    expect(j.assumptions.prices.length).toBe(j.scenarios.length);
  }, 180_000);
});

describe.concurrent('loopix bench link', () => {
  it('--json reports link, AEAD and unwrap µs per packet of the default geometry and the link share from paired slices', async () => {
    const r = await run('link', '--json', '--seconds', '0.3', '--pairs', '2', '--batch', '8');
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.packet_bytes).toBe(1314);
    expect(j.datagram_bytes).toBe(1342);
    expect(j.batch).toBe(8);
    expect(j.pairs).toBe(2);
    expect(r.stderr.match(/^pair \d\/2:/gm)).toHaveLength(2);
    for (const k of ['link_us_per_packet', 'aead_us_per_packet', 'unwrap_us_per_packet'])
      expect(j[k], k).toBeGreaterThan(0);
    expect(j.link_share).toBeCloseTo(j.link_vs_unwrap / (1 + j.link_vs_unwrap), 3);
    expect(j.link_share).toBeLessThan(1);
  }, 60_000);
});
