/**
 * `loopix testnet --post-office` end to end (runTestnet, real node processes): provider-0 serves as the post
 * office, every demo client opens a mailbox there, and every demo message travels as a PUSH and comes back
 * as a pooled PULL's answer.
 */
import { describe, expect, it } from 'vitest';
import { runTestnet } from '../src/testnet/run.js';

describe('loopix testnet --post-office', () => {
  it('delivers every demo message through the post office, intact, and every node exits cleanly', async () => {
    const summary = await runTestnet({
      shape: { layers: 2, perLayer: 1, providers: 2, epoch: 1 },
      clients: 2,
      durationS: 6,
      drainTimeoutS: 40,
      messageIntervalS: 1,
      params: { lambdaP: 5, lambdaL: 1, lambdaD: 5, mu: 20, pullIntervalMs: 200, poRoundMs: 300, poPoolSize: 20 },
      workersPerNode: 1,
      keep: false,
      postOffice: true,
      table: null,
      log: () => {},
    });
    expect(summary.sent_real).toBeGreaterThan(0);
    expect(summary.delivered_intact).toBe(summary.sent_real);
    expect(summary.drained).toBe(true);
    expect(summary.post_office!.pushes).toBe(summary.sent_real);
    expect(summary.post_office!.answers_real).toBeGreaterThanOrEqual(summary.sent_real);
    expect(summary.post_office!.answers_dummy).toBeGreaterThan(0);
    expect(summary.post_office!.pull_gaps).toBe(0);
    for (const code of Object.values(summary.node_exits)) expect(code).toBe(0);
  }, 120_000);
});
