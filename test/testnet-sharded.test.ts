/**
 * A whole testnet on the sharded packet path (pipeline.mode "sharded", docs/pipeline.md "Sharded packet
 * path"), as a user runs it: `loopix testnet --pipeline sharded --duration S --json` with the smallest
 * network (one mix layer of one mix, one provider, two clients), each node its own process whose packets are
 * received, link-opened, unwrapped, held and link-sealed by its worker threads. Every real message must arrive
 * intact, ≥ 99 % of the client loops must come back, and the only drops are the normal end of drop cover
 * (plus any the AQM shed, counted by reason).
 */
import { describe, expect, it } from 'vitest';
import { runTestnetCli, SMALLEST_NETWORK } from './helpers/testnet-run.js';

/** Drop reasons a healthy sharded network may show: drop cover ends at providers; AQM shedding on a busy host. */
const EXPECTED_DROPS = new Set(['drop_cover', 'aqm', 'queue_full']);

describe.runIf(process.platform === 'linux')('loopix testnet --pipeline sharded', () => {
  it('delivers every real message intact and gets ≥ 99 % of loops back with two workers per node', () => {
    // The default message interval (offered load 0.5 of the λP streams): six clients send about five
    // messages in 6 s. The drain: up to 10 s for the clients' send buffers (a message queued in the last
    // second needs its λP slots), then at least the runner's loop-return grace for what is in flight. Two
    // workers per node, so that one peer's datagrams, their link sequence numbers and their replay tags are
    // spread over two threads of the node.
    const r = runTestnetCli(
      [
        '--pipeline',
        'sharded',
        '--workers',
        '2',
        ...SMALLEST_NETWORK,
        '--clients',
        '6',
        '--duration',
        '6',
        '--drain-timeout',
        '10',
        '--json',
      ],
      { timeoutMs: 80_000 },
    );
    // Exit 1: a message was lost or corrupted; 70: an error escaped the runner (its `loopix:` line first).
    const fatal = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('loopix:'))
      .join('\n');
    expect(r.status, `${fatal}\n${r.stderr.slice(-2000)}`).toBe(0);
    const s = r.summary();
    expect(s.nodes, `run took ${r.wallS.toFixed(0)} s`).toBe(2);
    expect(s.sent_real).toBeGreaterThanOrEqual(1); // Poisson with mean ≈ 5: none has probability < 1 %
    expect(s.delivered_real, JSON.stringify(s.dropped)).toBe(s.sent_real);
    expect(s.delivered_intact).toBe(s.sent_real);
    expect(s.loops_sent).toBeGreaterThan(5);
    expect(s.loops_returned / s.loops_sent, JSON.stringify(s.dropped)).toBeGreaterThanOrEqual(0.99);
    expect(s.mix_loops_returned).toBeGreaterThan(0);
    expect(Object.keys(s.dropped).filter((k) => !EXPECTED_DROPS.has(k))).toEqual([]);
    expect(s.dropped.drop_cover ?? 0).toBeGreaterThan(0);
  }, 90_000);
});
