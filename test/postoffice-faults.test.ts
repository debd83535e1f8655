/**
 * Post office pushes are reliable over real node processes on loopback: with a mix that drops a quarter of
 * the packets it forwards (node config `faults: { drop }`, src/node/faults.ts) on the only path there is,
 * pushes, pull answers and SURB-acks are lost, yet every push is retransmitted until acknowledged and arrives
 * exactly once. Fast parameters (µ = 50/s, 100-ms rounds) and a 1-s first ack timeout keep it to seconds.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LoopixClient } from '../src/client/client.js';
import { collect } from './helpers/received.js';
import { FAST_PO_PARAMS, startConnected, startPostOfficeNet, type ClientNet } from './helpers/net-clients.js';

const params = FAST_PO_PARAMS;
const DROP = 0.25;
let pn: ClientNet;

const makeClient = (name: string): LoopixClient =>
  pn.client(name, 1, { retransmit: { firstTimeoutMs: 1000, maxAttempts: 20 } });

beforeAll(async () => {
  pn = await startPostOfficeNet({
    prefix: 'loopix-po-faults-',
    params,
    perNodeConfig: { 'mix-2.0': { faults: { drop: DROP } } },
  });
}, 180_000); // node start-up measures the unwrap rate once: slow on a loaded machine

afterAll(() => pn?.close());

describe('post office pushes through a lossy mix', () => {
  it('every push is retransmitted until acknowledged and arrives exactly once', async () => {
    const alice = makeClient('alice'),
      bob = makeClient('bob');
    const mailbox = bob.openMailbox();
    const got = collect(bob);
    await startConnected(alice, bob);
    const bodies = Array.from({ length: 6 }, (_, i) => `lossy ${i}`);
    const delivered = await Promise.all(bodies.map((b) => alice.send(mailbox, new TextEncoder().encode(b))));
    for (const d of delivered) expect(d.acknowledged).toBe(true);
    await vi.waitFor(
      () => expect(got.map((m) => new TextDecoder().decode(m.bytes)).sort()).toEqual([...bodies].sort()),
      { timeout: 10_000 },
    );
    // Exactly once: every message id once, though some were pushed (and some answered) more than once.
    expect(new Set(got.map((m) => m.messageId)).size).toBe(bodies.length);
    const a = alice.stats();
    expect(a.retransmissions).toBeGreaterThan(0);
    expect(a.po_pushes_sent).toBe(bodies.length + a.retransmissions);
    const mix = await pn.node('mix-2.0').nextStats();
    expect(mix?.dropped.fault_injected ?? 0).toBeGreaterThan(0);
    await Promise.all([alice.stop(), bob.stop()]);
    // Unlucky runs need several backed-off retransmissions of one push (1 s, 2 s, 4 s, …): 26 s was seen.
  }, 120_000);
});
