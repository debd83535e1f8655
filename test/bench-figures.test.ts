/**
 * Smoke runs of the paper's figures (Loopix Figs. 8–10) through the real CLI on a tiny testbed: ten node
 * processes and a handful of LoopixClient instances, a few seconds each. The JSON fields exist and hold
 * sensible values; no timing assertions.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastJson, runBench } from './helpers/bench-run.js';

const dir = mkdtempSync(join(tmpdir(), 'loopix-bench-fig-test-'));
/**
 * `loopix bench ARGS` as a child process (test/helpers/bench-run.ts). A figure's time is mostly its testbeds'
 * start-up and fixed warm-up and measuring seconds; the assertions are about fields and values, not speed.
 */
const run = runBench;
const quick = ['--json', '--openssl-seconds', '0', '--warmup-seconds', '1', '--results-dir', dir];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent('loopix bench fig8 / fig9 / fig10 (tiny testbed)', () => {
  it('fig8 reports packets one mix processes per second, all and payload, against the sending rate', async () => {
    // One step (every step is a fresh ten-node testbed; fig9 runs a sweep of two): step 3 of the paper's schedule.
    const r = await run('fig8', ...quick, '--clients', '6', '--steps', '3', '--seconds', '2');
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.points.map((p: { lambda_per_min: number }) => p.lambda_per_min)).toEqual([23]);
    for (const p of j.points) {
      expect(p.mix_all_per_s).toBeGreaterThanOrEqual(0);
      expect(p.mix_payload_per_s).toBeGreaterThanOrEqual(0);
      expect(Object.keys(p.mix_all_per_s_by_mix)).toHaveLength(6);
      expect(p.clients_connected).toBe(6);
    }
    expect(readFileSync(join(dir, 'fig8.svg'), 'utf8')).toMatch(/^<svg/);
  }, 180_000);

  it('fig9 reports per-hop latency overhead and node-loop round trips against the number of clients', async () => {
    const r = await run('fig9', ...quick, '--clients', '4,8', '--seconds', '3');
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.points.map((p: { clients: number }) => p.clients)).toEqual([4, 8]);
    for (const p of j.points) {
      expect(p.hop_ms.count).toBeGreaterThan(0);
      expect(p.hop_ms.mean).toBeGreaterThan(0);
      expect(p.hop_ms.p99).toBeGreaterThanOrEqual(p.hop_ms.p50);
    }
    expect(j.mu_per_s).toBe(1e6);
    expect(readFileSync(join(dir, 'fig9.svg'), 'utf8')).toMatch(/^<svg/);
  }, 180_000);

  it('fig10 fits a Gamma distribution to loop latencies and states the theory next to it', async () => {
    const r = await run('fig10', ...quick, '--clients', '4', '--seconds', '6');
    expect(r.status, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.theory).toEqual({ hops: 3, mu_per_s: 2, mean_s: 1.5, sd_s: 0.866 });
    expect(j.samples).toBeGreaterThan(0);
    expect(j.measured.mean_s).toBeGreaterThan(0);
    expect(j.gamma_fit.mean_s).toBe(j.measured.mean_s);
    expect(j.histogram.length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'fig10.svg'), 'utf8')).toMatch(/^<svg/);
  }, 180_000);
});
