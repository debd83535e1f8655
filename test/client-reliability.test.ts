/**
 * Acknowledgements, retransmission, duplicate suppression, envelopes, reply SURBs and persistence of the
 * client, on an in-process network in simulated time (test/helpers/sim-network.ts): real Sphinx packets and
 * SURBs, simulated sockets and clock. The same behaviours over real processes: test/client-messaging.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isLoopixError } from '../src/errors.js';
import { MemoryStore } from '../src/client/store.js';
import type { Delivery, ReceivedMessage } from '../src/client/client.js';
import { clientIdOf } from '../src/address.js';
import { clientBackend, makeNetwork, toHex } from './client-fixtures.js';
import { SimWorld } from './helpers/sim-network.js';

const backend = clientBackend();
const net = makeNetwork(backend, { layers: 2, perLayer: 1, providers: 2 });
const [P0, P1] = [net.providers[0]!, net.providers[1]!];
const MIX = net.topology.layerNodes[1]![0]!.id;

function drain(messages: ReceivedMessage[], it: AsyncIterable<ReceivedMessage>): void {
  void (async () => {
    for await (const m of it) messages.push(m);
  })();
}

describe('acknowledgements and retransmission (simulated time)', () => {
  it('send() resolves once every fragment is acknowledged, with progress on the way', async () => {
    const w = new SimWorld(backend, net);
    const alice = w.client(P0.id), bob = w.client(P1.id);
    const got: ReceivedMessage[] = [];
    drain(got, bob.client.messages());
    alice.client.start();
    bob.client.start();
    const progress: number[] = [];
    let result: Delivery | undefined;
    const h = alice.client.send(bob.client.address, crypto.getRandomValues(new Uint8Array(3000)), { onProgress: (p) => progress.push(p.acked) });
    void h.then((d) => (result = d));
    expect(h.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(await w.runUntil(() => result !== undefined, 60_000)).toBe(true);
    expect(result!.acknowledged).toBe(true);
    expect(result!.fragments).toBeGreaterThan(1);
    expect(progress).toEqual(Array.from({ length: result!.fragments }, (_, i) => i + 1));
    expect(h.progress()).toEqual({ messageId: h.messageId, acked: 0, total: 0 }); // the envelope is forgotten once done
    expect(got.map((m) => m.messageId)).toEqual([h.messageId]);
    expect(alice.client.stats().acks_received).toBe(result!.fragments);
    expect(bob.client.stats().acks_sent).toBe(result!.fragments);
    await Promise.all([alice.client.stop(), bob.client.stop()]);
  });

  it('with a mix dropping 10 %, 100 messages arrive exactly once and every send() resolves', async () => {
    const w = new SimWorld(backend, net);
    w.lose = (id) => id === MIX && Math.random() < 0.1;
    const alice = w.client(P0.id, { lambdaP: 40 }), bob = w.client(P1.id, { lambdaP: 40 });
    const got: ReceivedMessage[] = [];
    drain(got, bob.client.messages());
    alice.client.start();
    bob.client.start();
    // Incompressible bodies of 1..900 bytes: about 70 fragments in all, so the mix has something to drop.
    const bodies = Array.from({ length: 100 }, (_, i) => crypto.getRandomValues(new Uint8Array(1 + ((i * 37) % 900))));
    const handles = bodies.map((b) => alice.client.send(bob.client.address, b));
    let settled = 0;
    for (const h of handles) void h.then(() => settled++, () => settled++);
    expect(await w.runUntil(() => settled === 100, 600_000, 200)).toBe(true);
    await expect(Promise.all(handles)).resolves.toHaveLength(100);
    expect(got).toHaveLength(100);
    expect(got.map((m) => m.messageId)).toEqual(handles.map((h) => h.messageId)); // exactly once, in order
    got.forEach((m, i) => expect(Buffer.from(m.bytes).equals(Buffer.from(bodies[i]!))).toBe(true));
    const as = alice.client.stats();
    expect(as.retransmissions).toBeGreaterThan(0);
    expect(w.lost.get(MIX)).toBeGreaterThan(0);
    expect(bob.client.stats().duplicates_ignored).toBeGreaterThanOrEqual(0);
    await Promise.all([alice.client.stop(), bob.client.stop()]);
  });

  it('rejects with ERR_LOOPIX_CLIENT_UNDELIVERED naming the message after the attempts are used up', async () => {
    const w = new SimWorld(backend, net);
    w.lose = (id) => id === MIX; // the only path is dead
    const alice = w.client(P0.id, {}, { retransmit: { maxAttempts: 3 } }), bob = w.client(P1.id);
    alice.client.start();
    bob.client.start();
    const h = alice.client.send(bob.client.address, new Uint8Array(10));
    let err: unknown;
    h.catch((e: unknown) => (err = e));
    expect(await w.runUntil(() => err !== undefined, 600_000, 500)).toBe(true);
    expect(isLoopixError(err, 'ERR_LOOPIX_CLIENT_UNDELIVERED')).toBe(true);
    expect((err as Error).message).toContain(h.messageId);
    expect((err as Error).message).toContain('3 transmissions');
    expect(alice.client.stats().sent_real).toBe(3);
    await Promise.all([alice.client.stop(), bob.client.stop()]);
  });

  it('a retransmitted fragment whose ack was lost is acknowledged again but delivered once', async () => {
    const w = new SimWorld(backend, net);
    const alice = w.client(P0.id), bob = w.client(P1.id);
    const got: ReceivedMessage[] = [];
    drain(got, bob.client.messages());
    // The mix loses the first two packets bob sends to alice: his acks.
    const aliceId = toHex(clientIdOf(net.geometry, alice.keys.publicKey));
    let acksLost = 0;
    w.lose = (id, p) => id === MIX && p.from === P1.id && p.deliveredTo === aliceId && acksLost < 2 && ++acksLost > 0;
    alice.client.start();
    bob.client.start();
    let done = false;
    void alice.client.send(bob.client.address, new TextEncoder().encode('once')).then(() => (done = true));
    expect(await w.runUntil(() => done, 120_000)).toBe(true);
    expect(got.map((m) => new TextDecoder().decode(m.bytes))).toEqual(['once']);
    expect(bob.client.stats().duplicates_ignored).toBeGreaterThanOrEqual(1);
    expect(alice.client.stats().retransmissions).toBeGreaterThanOrEqual(1);
    await Promise.all([alice.client.stop(), bob.client.stop()]);
  });
});
