/**
 * Post office pushes are reliable over real node processes on loopback: with a mix that drops a quarter of
 * the packets it forwards (node config `faults: { drop }`, src/node/faults.ts) on the only path there is,
 * pushes, pull answers and SURB-acks are lost, yet every push is retransmitted until acknowledged and arrives
 * exactly once. Fast parameters (µ = 50/s, 100-ms rounds) and a 1-s first ack timeout keep it to seconds.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LoopixClient, ReceivedMessage } from '../src/client/client.js';
import { type TestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { startProcessNet, type ProcessNet } from './helpers/process-net.js';
import { native } from './helpers/backends.js';
import { freshClientKeyPair, testnetClient } from './helpers/net-clients.js';

const params = {
  lambdaP: 20,
  lambdaL: 1,
  lambdaD: 20,
  lambdaM: 1,
  mu: 50,
  pullIntervalMs: 100,
  pullK: 16,
  poRoundMs: 100,
  poPoolSize: 15,
};
const DROP = 0.25;
let dir: string;
let net: TestnetFiles;
let nodes: readonly NodeProcess[];
let pn: ProcessNet | undefined;
const clients: LoopixClient[] = [];

function makeClient(name: string): LoopixClient {
  const client = testnetClient(net, {
    keyPair: freshClientKeyPair(dir, name),
    providerIndex: 1,
    params,
    retransmit: { firstTimeoutMs: 1000, maxAttempts: 20 },
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  pn = await startProcessNet({
    prefix: 'loopix-po-faults-',
    shape: { layers: 2, perLayer: 1, providers: 2, epoch: 3 },
    backend: native,
    params,
    postOffice: true,
    // replay.maxRatePps given (this test sends far fewer packets/s): no unwrap-rate measurement at
    // start-up, and a filter of a few MB instead of ≈ 200 MB per node that every snapshot and every
    // stop would copy, hash and write.
    nodeConfig: {
      pipeline: { workers: 1, aqm: { targetDelayMs: 500, maxQueueDelayMs: 5000 } },
      statsIntervalS: 0.25,
      replay: { maxRatePps: 1000 },
    },
    perNodeConfig: { 'mix-2.0': { faults: { drop: DROP } } },
  });
  ({ dir, files: net, nodes } = pn);
}, 180_000); // node start-up measures the unwrap rate once: slow on a loaded machine

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await pn?.close();
});

describe('post office pushes through a lossy mix', () => {
  it('every push is retransmitted until acknowledged and arrives exactly once', async () => {
    const alice = makeClient('alice'),
      bob = makeClient('bob');
    const mailbox = bob.openMailbox();
    const got: ReceivedMessage[] = [];
    void (async () => {
      for await (const m of bob.messages()) got.push(m);
    })();
    alice.start();
    bob.start();
    await Promise.all([alice.waitConnected(15_000), bob.waitConnected(15_000)]);
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
    const mix = await nodes.find((n) => n.node.name === 'mix-2.0')!.nextStats();
    expect(mix?.dropped.fault_injected ?? 0).toBeGreaterThan(0);
    await Promise.all([alice.stop(), bob.stop()]);
  }, 30_000);
});
