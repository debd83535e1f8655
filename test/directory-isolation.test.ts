/**
 * Bad-server isolation end to end (AnonPoP §5.2 over Loopix §4.2.1 loops), as `loopix testnet
 * --misbehave mix-2.0:drop=0.3` runs it: real node and authority processes, short epochs. The layer-1 mixes'
 * loops over their link to mix-2.0 come back too rarely, both file signed reports, the authorities exclude
 * mix-2.0 (2 distinct reporters > f = 1) within the stated number of epochs, and from then on every real
 * message is delivered and loops return at the honest rate. No honest node is excluded.
 */
import { describe, expect, it } from 'vitest';
import { runQuietTestnet } from './helpers/testnet-run.js';

/** Stated bound: excluded within this many epochs of the start of the misbehaviour. */
const EPOCHS_TO_EXCLUSION = 8;
const EPOCH_S = 5;

describe('bad-server isolation in a running testnet', () => {
  it('excludes a mix that drops 30 % of packets within the stated number of epochs; afterwards every message arrives and loops return at the honest rate', async () => {
    const lines: string[] = [];
    const summary = await runQuietTestnet({
      shape: { layers: 2, perLayer: 2, providers: 1, epoch: 1, epochLengthS: EPOCH_S },
      clients: 2,
      // Exclusion comes about 4 epochs after the nodes are up (reports in the epoch after the first minDue
      // loops, the exclusion in the next document): 30 s of sending covers it with time to spare "after".
      durationS: 30,
      drainTimeoutS: 15,
      // One message per client every 2 s (5 fragments on average with the demo's size mix) stays well under
      // the λP = 8/s payload slots, so no backlog hides the delivery ratio after the exclusion.
      messageIntervalS: 2,
      params: { mu: 20, lambdaM: 10, loopWindowS: 8, lambdaP: 8, lambdaL: 2, lambdaD: 1 },
      misbehave: { 'mix-2.0': { drop: 0.3, delayMs: 0, tag: 0 } },
      isolation: { f: 1 },
      log: (l) => lines.push(l),
    });
    const d = summary.directory!;
    expect(d, lines.join('\n')).toBeDefined();
    expect(
      d.excluded.map((e) => e.node),
      JSON.stringify(d),
    ).toEqual(['mix-2.0']);
    expect(
      d.reports
        .filter((r) => r.to === 'mix-2.0')
        .map((r) => r.from)
        .sort(),
    ).toEqual(['mix-1.0', 'mix-1.1']);
    expect(d.time_to_exclusion_s!).toBeLessThanOrEqual(EPOCHS_TO_EXCLUSION * EPOCH_S);
    expect(d.after!.messages).toBeGreaterThan(0);
    expect(d.after!.delivery_ratio, JSON.stringify(d)).toBe(1);
    expect(d.after!.loop_return_fraction!).toBeGreaterThanOrEqual(0.97);
    expect(d.before!.loop_return_fraction!).toBeLessThan(d.after!.loop_return_fraction!);
    process.stderr.write(`directory-isolation: ${JSON.stringify(d)}\n`);
  }, 120_000);
});
