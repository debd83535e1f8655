/**
 * Acknowledgements, retransmission, duplicate suppression, envelopes, reply SURBs and persistence of the
 * client, on an in-process network in simulated time (test/helpers/sim-network.ts): real Sphinx packets and
 * SURBs, simulated sockets and clock. The same behaviours over real processes: test/client-messaging.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { isLoopixError } from '../src/errors.js';
import { MemoryStore } from '../src/client/store.js';
import type { Delivery } from '../src/client/client.js';
import { clientIdOf } from '../src/address.js';
import { clientBackend, makeNetwork, toHex } from './client-fixtures.js';
import { collect } from './helpers/received.js';
import { SimWorld, type SimClient } from './helpers/sim-network.js';

const backend = clientBackend();
const net = makeNetwork(backend, { layers: 2, perLayer: 1, providers: 2 });
const [P0, P1] = [net.providers[0]!, net.providers[1]!];
const MIX = net.topology.layerNodes[1]![0]!.id;

/**
 * A simulated network over `n` with alice at its first provider and bob at its second (`params` for both,
 * `aliceExtra` for alice only); neither started.
 */
function aliceAndBob(n = net, params: Record<string, number> = {}, aliceExtra: Parameters<SimWorld['client']>[2] = {}) {
  const w = new SimWorld(backend, n);
  return { w, alice: w.client(n.providers[0]!.id, params, aliceExtra), bob: w.client(n.providers[1]!.id, params) };
}
const start = (...clients: SimClient[]): void => {
  for (const c of clients) c.client.start();
};
const stop = (...clients: SimClient[]): Promise<unknown> => Promise.all(clients.map((c) => c.client.stop()));

describe('acknowledgements and retransmission (simulated time)', () => {
  it('send() resolves once every fragment is acknowledged, with progress on the way', async () => {
    const { w, alice, bob } = aliceAndBob();
    const got = collect(bob.client);
    start(alice, bob);
    const progress: number[] = [];
    let result: Delivery | undefined;
    const h = alice.client.send(bob.client.address, crypto.getRandomValues(new Uint8Array(3000)), {
      onProgress: (p) => progress.push(p.acked),
    });
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
    await stop(alice, bob);
  });

  it('with a mix dropping 10 %, 100 messages arrive exactly once and every send() resolves', async () => {
    const { w, alice, bob } = aliceAndBob(net, { lambdaP: 40 });
    w.lose = (id) => id === MIX && Math.random() < 0.1;
    const got = collect(bob.client);
    start(alice, bob);
    // Incompressible bodies of 1..900 bytes: about 70 fragments in all, so the mix has something to drop.
    const bodies = Array.from({ length: 100 }, (_, i) => crypto.getRandomValues(new Uint8Array(1 + ((i * 37) % 900))));
    const handles = bodies.map((b) => alice.client.send(bob.client.address, b));
    let settled = 0;
    for (const h of handles)
      void h.then(
        () => settled++,
        () => settled++,
      );
    expect(await w.runUntil(() => settled === 100, 600_000, 200)).toBe(true);
    await expect(Promise.all(handles)).resolves.toHaveLength(100);
    expect(got).toHaveLength(100);
    expect(got.map((m) => m.messageId)).toEqual(handles.map((h) => h.messageId)); // exactly once, in order
    got.forEach((m, i) => expect(Buffer.from(m.bytes).equals(Buffer.from(bodies[i]!))).toBe(true));
    const as = alice.client.stats();
    expect(as.retransmissions).toBeGreaterThan(0);
    expect(w.lost.get(MIX)).toBeGreaterThan(0);
    expect(bob.client.stats().duplicates_ignored).toBeGreaterThanOrEqual(0);
    await stop(alice, bob);
  });

  it('rejects with ERR_LOOPIX_CLIENT_UNDELIVERED naming the message after the attempts are used up', async () => {
    const { w, alice, bob } = aliceAndBob(net, {}, { retransmit: { maxAttempts: 3 } });
    w.lose = (id) => id === MIX; // the only path is dead
    start(alice, bob);
    const h = alice.client.send(bob.client.address, new Uint8Array(10));
    let err: unknown;
    h.catch((e: unknown) => (err = e));
    expect(await w.runUntil(() => err !== undefined, 600_000, 500)).toBe(true);
    expect(isLoopixError(err, 'ERR_LOOPIX_CLIENT_UNDELIVERED')).toBe(true);
    expect((err as Error).message).toContain(h.messageId);
    expect((err as Error).message).toContain('3 transmissions');
    expect(alice.client.stats().sent_real).toBe(3);
    await stop(alice, bob);
  });

  it('a retransmitted fragment whose ack was lost is acknowledged again but delivered once', async () => {
    const { w, alice, bob } = aliceAndBob();
    const got = collect(bob.client);
    // The mix loses the first two packets bob sends to alice: his acks.
    const aliceId = toHex(clientIdOf(net.geometry, alice.keys.publicKey));
    let acksLost = 0;
    w.lose = (id, p) => id === MIX && p.from === P1.id && p.deliveredTo === aliceId && acksLost < 2 && ++acksLost > 0;
    start(alice, bob);
    let done = false;
    void alice.client.send(bob.client.address, new TextEncoder().encode('once')).then(() => (done = true));
    expect(await w.runUntil(() => done, 120_000)).toBe(true);
    expect(got.map((m) => new TextDecoder().decode(m.bytes))).toEqual(['once']);
    expect(bob.client.stats().duplicates_ignored).toBeGreaterThanOrEqual(1);
    expect(alice.client.stats().retransmissions).toBeGreaterThanOrEqual(1);
    await stop(alice, bob);
  });
});

describe('envelopes (simulated time)', () => {
  it('ten 20-byte messages queued together leave in fewer packets than ten and arrive as ten, in order', async () => {
    const { w, alice, bob } = aliceAndBob();
    const got = collect(bob.client);
    const texts = Array.from({ length: 10 }, (_, i) => `message number ${String(i).padStart(2, '0')}...`);
    expect(texts.every((t) => t.length === 20)).toBe(true);
    const handles = texts.map((t) => alice.client.send(bob.client.address, new TextEncoder().encode(t)));
    start(alice, bob);
    let done = 0;
    for (const h of handles) void h.then(() => done++);
    expect(await w.runUntil(() => done === 10, 60_000)).toBe(true);
    const deliveries = await Promise.all(handles);
    expect(new Set(deliveries.map((d) => d.envelopeId)).size).toBe(1);
    expect(alice.client.stats().sent_real).toBeLessThan(10);
    expect(alice.client.stats().sent_real).toBe(1);
    expect(got.map((m) => new TextDecoder().decode(m.bytes))).toEqual(texts);
    expect(got.map((m) => m.messageId)).toEqual(handles.map((h) => h.messageId));
    await stop(alice, bob);
  });
});

describe('the wire rate with acks and retransmissions (simulated time)', () => {
  it('stays λP + λL + λD: acks and retransmissions take the place of λP drops', async () => {
    const rates = { lambdaP: 5, lambdaL: 1, lambdaD: 1 };
    const { w, alice, bob } = aliceAndBob(net, rates);
    w.lose = (id) => id === MIX && Math.random() < 0.3; // plenty of retransmissions
    start(alice, bob);
    const T = 240_000; // 4 simulated minutes
    for (let i = 0; i < 120; i++)
      alice.client.send(bob.client.address, crypto.getRandomValues(new Uint8Array(700))).catch(() => {});
    for (let i = 0; i < 60; i++)
      bob.client.send(alice.client.address, crypto.getRandomValues(new Uint8Array(700))).catch(() => {});
    await w.runUntil(() => false, T, 1000);
    for (const c of [alice, bob]) {
      const s = c.client.stats();
      const total = c.transport().submitted.length;
      // Exactly one packet per stream event: every λP event sent a fragment, an ack or a drop.
      expect(total).toBe(s.sent_real + s.acks_sent + s.sent_drop_cover + s.loops_sent + s.drops_sent);
      const expected = ((rates.lambdaP + rates.lambdaL + rates.lambdaD) * T) / 1000;
      expect(Math.abs(total - expected)).toBeLessThan(5 * Math.sqrt(expected));
      expect(s.acks_sent + s.retransmissions).toBeGreaterThan(0);
    }
    expect(alice.client.stats().retransmissions).toBeGreaterThan(0);
    await stop(alice, bob);
  });
});

describe('forged and replayed acknowledgements (simulated time)', () => {
  it('an ack built without the SURB, or a replayed one, does not acknowledge anything', async () => {
    const { w, alice, bob } = aliceAndBob();
    // Capture bob's acks on the wire instead of delivering them; the attacker replays one twice.
    const captured: Uint8Array[] = [];
    const aliceId = toHex(clientIdOf(net.geometry, alice.keys.publicKey));
    w.lose = (id, p) => {
      if (id === MIX && p.from === P1.id && p.deliveredTo === aliceId) return true;
      return false;
    };
    const bobTransport = () => bob.transport();
    start(alice, bob);
    const h = alice.client.send(bob.client.address, new TextEncoder().encode('acked?'));
    h.catch(() => {});
    await w.runUntil(() => bob.client.stats().acks_sent >= 1, 30_000);
    for (const s of bobTransport().submitted) captured.push(s.packet);
    // 1. A forged ack: a SURB reply the attacker builds on its own SURB to alice (it cannot open alice's).
    const { surbRoute } = await import('../src/client/routes.js');
    const surbId = crypto.getRandomValues(new Uint8Array(net.geometry.addressBytes));
    const r = surbRoute(net.topology, P1.id, P0.id, alice.keys.publicKey, surbId, { mu: 50 });
    const forgedSurb = backend.createSurb(net.geometry, {
      epoch: r.epoch,
      hops: r.hops,
      firstHop: Buffer.from(P1.id, 'hex'),
    });
    const { encodeAck } = await import('../src/client/frames.js');
    const forged = backend.createSurbReply(
      net.geometry,
      forgedSurb.surb,
      encodeAck(net.geometry, [{ envelopeId: new Uint8Array(16), index: 0 }]),
    );
    w.lose = () => false;
    w.carry(P1.id, forged.packet);
    await w.runUntil(() => (alice.client.stats().invalid_received.unknown_surb ?? 0) >= 1, 5_000);
    expect(alice.client.stats().acks_received).toBe(0);
    expect(h.progress().acked).toBe(0);
    // 2. The genuine ack, replayed: the first copy acknowledges, the second finds no SURB keys.
    for (const p of captured) w.carry(P1.id, p.slice());
    for (const p of captured) w.carry(P1.id, p.slice());
    let done = false;
    void h.then(() => (done = true));
    expect(await w.runUntil(() => done, 10_000)).toBe(true);
    expect(alice.client.stats().acks_received).toBe(1);
    await stop(alice, bob);
  });
});

describe('reply SURBs (simulated time)', () => {
  it('a reply reaches the sender through SURBs; the recipient sees a handle, never the address; top-up and expiry', async () => {
    const { w, alice, bob } = aliceAndBob();
    const atAlice = collect(alice.client),
      atBob = collect(bob.client);
    start(alice, bob);
    const h = alice.client.send(bob.client.address, new TextEncoder().encode('write back'), { replySurbs: 3 });
    h.catch(() => {});
    expect(h.conversation).toMatch(/^[0-9a-f]{32}$/);
    await w.runUntil(() => atBob.length === 1, 30_000);
    const m = atBob[0]!;
    expect(m.replyHandle).toBe(h.conversation);
    // Nothing bob's client exposes names alice: not her public key, not her provider, not her address.
    const view = JSON.stringify({
      m: { ...m, bytes: Buffer.from(m.bytes).toString('hex') },
      stats: bob.client.stats(),
    });
    for (const secret of [toHex(alice.keys.publicKey), P0.id, alice.client.address]) expect(view).not.toContain(secret);
    expect(bob.client.replySurbsLeft(m.replyHandle!)).toBe(3);

    // Two replies: the second leaves fewer than SURB_LOW_WATER, so it asks alice for more.
    const r1 = bob.client.reply(m.replyHandle!, new TextEncoder().encode('reply one'));
    const r2 = bob.client.reply(m.replyHandle!, new TextEncoder().encode('reply two'));
    let replied = 0;
    void r1.then(() => replied++);
    void r2.then(() => replied++);
    expect(await w.runUntil(() => replied === 2 && atAlice.length === 2, 60_000)).toBe(true);
    expect(atAlice.map((x) => new TextDecoder().decode(x.bytes))).toEqual(['reply one', 'reply two']);
    expect(atAlice.every((x) => x.conversation === h.conversation)).toBe(true);
    expect(alice.client.stats().replies_received).toBe(2);
    // The top-up: alice answered the SURB request with SURB_TOP_UP more.
    expect(await w.runUntil(() => bob.client.replySurbsLeft(m.replyHandle!) > 1, 60_000)).toBe(true);

    // Unknown handle and, without rotating keys, no expiry: the errors name the handle.
    await expect(bob.client.reply('00'.repeat(16), new Uint8Array(1))).rejects.toMatchObject({
      code: 'ERR_LOOPIX_CLIENT_REPLY_UNKNOWN',
      field: 'handle',
    });
    await stop(alice, bob);
  });

  it("a reply after the SURBs' key epoch ended fails with ERR_LOOPIX_CLIENT_REPLY_EXPIRED", async () => {
    const rotating = makeNetwork(backend, {
      layers: 2,
      perLayer: 1,
      providers: 2,
      epochLengthS: 60,
      epochStartMs: 1_700_000_000_000,
    });
    const { w, alice, bob } = aliceAndBob(rotating);
    const atBob = collect(bob.client);
    start(alice, bob);
    alice.client
      .send(bob.client.address, new TextEncoder().encode('answer within the epoch'), { replySurbs: 2 })
      .catch(() => {});
    expect(await w.runUntil(() => atBob.length === 1, 30_000)).toBe(true);
    w.wall += 120_000; // two epochs later
    const err = await bob.client.reply(atBob[0]!.replyHandle!, new Uint8Array(1)).catch((e: unknown) => e);
    expect(isLoopixError(err, 'ERR_LOOPIX_CLIENT_REPLY_EXPIRED')).toBe(true);
    expect((err as Error).message).toContain(atBob[0]!.replyHandle!);
    await stop(alice, bob);
  });
});

describe('persistence (simulated time)', () => {
  it('a sender restarted on the same store finishes its pending sends; the recipient delivers each message once', async () => {
    const w = new SimWorld(backend, net);
    const store = new MemoryStore();
    const bobStore = new MemoryStore();
    const alice1 = w.client(P0.id, {}, { store });
    const bob = w.client(P1.id, {}, { store: bobStore });
    const got = collect(bob.client);
    start(alice1, bob);
    const ids = Array.from({ length: 5 }, () => {
      const h = alice1.client.send(bob.client.address, crypto.getRandomValues(new Uint8Array(2000)));
      h.catch(() => {});
      return h.messageId;
    });
    // Run until some, not all, fragments are acknowledged; then the sender "crashes" (no clean stop needed:
    // the store already holds every unacknowledged envelope).
    await w.runUntil(() => alice1.client.stats().acks_received >= 2, 30_000, 20);
    expect(alice1.client.stats().unacked_fragments).toBeGreaterThan(0);
    alice1.transport().connected = false;
    await alice1.client.stop();
    expect(store.data.outgoing.size).toBeGreaterThan(0);
    const deliveredAfter: string[] = [];
    const alice2 = w.client(P0.id, {}, { store, keys: alice1.keys, onDelivered: (m) => deliveredAfter.push(...m) });
    expect(alice2.client.stats().unacked_fragments).toBeGreaterThan(0);
    alice2.client.start();
    expect(await w.runUntil(() => alice2.client.stats().unacked_fragments === 0 && got.length === 5, 120_000)).toBe(
      true,
    );
    expect(got.map((m) => m.messageId).sort()).toEqual([...ids].sort());
    expect(store.data.outgoing.size).toBe(0);
    expect(deliveredAfter.length).toBeGreaterThan(0);
    // The recipient restarted on its store still knows what it delivered: a replayed old fragment is a duplicate.
    expect(bobStore.data.seen.size).toBe(1);
    await stop(alice2, bob);
  });
});
