/**
 * LoopixClient over simulated time with an in-memory transport: the outgoing rate is λP + λL + λD whether or
 * not there is anything to send (real fragments replace λP drops), and pulled packets are unwrapped into
 * messages, loop round trips and discarded dummies.
 */
import { describe, expect, it } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { createNodeClient } from '../src/client/node.js';
import { NetworkParamsSchema, type NetworkParams } from '../src/config/schema.js';
import { clientBackend, keyPair, makeNetwork, route, toHex } from './client-fixtures.js';
import { simClient, within } from './helpers/sim-client.js';

const backend = clientBackend();
const net = makeNetwork(backend, { layers: 3, perLayer: 2, providers: 2 });
const g = net.geometry;
const [P0, P1] = [net.providers[0]!, net.providers[1]!];

const makeClient = (providerId: string, params: Partial<NetworkParams> = {}) =>
  simClient({ backend, topology: net.topology, providerId, params, wallMs: 1_700_000_000_000 });

/** Classifies submitted packets by where they end up: unwrapped through the network, then by the client key. */
function classify(packets: Uint8Array[], from: string, clientKeys: Uint8Array[]) {
  const byId = new Map(clientKeys.map((sk) => [toHex(clientIdOf(g, backend.x25519Base(sk))), sk]));
  const out = { message: 0, loop: 0, drop: 0, other: 0 };
  for (const p of packets) {
    const r = route(backend, net, from, p);
    const sk = r.delivered && byId.get(r.delivered.clientId);
    const kind =
      r.trace.at(-1)!.result.kind === 'drop' ? 'drop' : sk ? backend.unwrap(g, sk, r.delivered.packet).kind : 'other';
    if (kind === 'final') out.message++;
    else if (kind === 'loop' || kind === 'drop') out[kind]++;
    else out.other++;
  }
  return out;
}

describe('client outgoing traffic (simulated time)', () => {
  const T = 800; // simulated seconds; λ = 1/s per stream

  it('with nothing to send, the client still emits λP drops + λL loops + λD drops', async () => {
    const { client, sim, transport } = makeClient(P0.id);
    client.start();
    sim.advance(T * 1000);
    const s = client.stats();
    expect(s.sent_real).toBe(0);
    within(s.sent_drop_cover, T);
    within(s.loops_sent, T);
    within(s.drops_sent, T);
    expect(transport.submitted.length).toBe(s.sent_drop_cover + s.loops_sent + s.drops_sent);
    within(transport.submitted.length, 3 * T);
    for (const p of transport.submitted) expect(p.length).toBe(g.packetBytes);
    await client.stop();
  });

  it('real messages replace λP drops instead of adding to them: the total rate stays λP + λL + λD', async () => {
    const { client, sim, transport, keys } = makeClient(P0.id);
    const recipient = keyPair(backend);
    const to = { providerId: P1.id, publicKey: recipient.publicKey };
    // Enough fragments that the buffer never runs dry during T (each 64 KiB message is 66 fragments).
    for (let i = 0; i < 20; i++) client.send(to, crypto.getRandomValues(new Uint8Array(65536))).catch(() => {});
    expect(client.stats().send_buffer).toBe(20); // 20 messages waiting to be put into envelopes
    client.start();
    sim.advance(T * 1000);
    const s = client.stats();
    expect(s.sent_drop_cover).toBe(0);
    expect(s.send_buffer).toBeGreaterThan(0);
    within(s.sent_real, T);
    within(s.loops_sent, T);
    within(s.drops_sent, T);
    within(transport.submitted.length, 3 * T);
    // What the network sees: the real fragments took the place of the λP drops.
    const kinds = classify(transport.submitted, P0.id, [keys.privateKey, recipient.privateKey]);
    expect(kinds).toEqual({ message: s.sent_real, loop: s.loops_sent, drop: s.drops_sent, other: 0 });
    await client.stop();
  });

  it('while the provider is unreachable the streams send nothing and the buffer keeps its fragments', async () => {
    const { client, sim, transport } = makeClient(P0.id);
    transport.connected = false;
    client.send(client.address, crypto.getRandomValues(new Uint8Array(5000))).catch(() => {});
    client.start();
    sim.advance(100_000);
    let s = client.stats();
    expect(transport.submitted.length).toBe(0);
    expect(s.send_buffer).toBe(1); // the message, not yet put into an envelope
    within(s.skipped_offline.payload + s.skipped_offline.loop + s.skipped_offline.drop, 300);
    transport.connected = true;
    const flushed = client.flushed();
    sim.advance(100_000);
    await flushed;
    s = client.stats();
    expect(s.send_buffer).toBe(0);
    expect(s.sent_real - s.retransmissions).toBe(client.fragmentsFor(5000));
    await client.stop();
  });
});

describe('client receiving (simulated time)', () => {
  it('delivers a fragmented message, counts returned loops with RTTs, discards dummies and duplicates', async () => {
    const alice = makeClient(P0.id, { lambdaP: 20, lambdaL: 5, lambdaD: 1 });
    const bob = makeClient(P1.id);
    const text = Buffer.from(crypto.getRandomValues(new Uint8Array(2500))).toString('hex') + ' end';
    const sending = alice.client.send(bob.client.address, new TextEncoder().encode(text));
    sending.catch(() => {});
    const sent = sending.messageId;
    alice.client.start();
    alice.sim.advance(2000);
    const toBob: Uint8Array[] = [];
    const toAlice: Uint8Array[] = [];
    for (const p of alice.transport.submitted) {
      const r = route(backend, net, P0.id, p);
      if (r.delivered?.clientId === toHex(clientIdOf(g, bob.keys.publicKey))) toBob.push(r.delivered.packet);
      if (r.delivered?.clientId === toHex(clientIdOf(g, alice.keys.publicKey))) toAlice.push(r.delivered.packet);
    }
    expect(toBob.length).toBe(alice.client.stats().sent_real);
    expect(toBob.length).toBeGreaterThan(1);
    expect(toAlice.length).toBe(alice.client.stats().loops_sent);
    expect(toAlice.length).toBeGreaterThan(0);

    // Bob pulls his fragments out of order, plus dummies and a duplicate.
    const dummies = Array.from({ length: 3 }, () => crypto.getRandomValues(new Uint8Array(g.packetBytes)));
    const batch = [...toBob.slice().reverse(), ...dummies, toBob[0]!.slice()].map((p) => p.slice());
    // The duplicate (a copy of an already-processed packet) arrives after the message completed.
    const iter = bob.client.messages()[Symbol.asyncIterator]();
    await bob.handlers().onPackets(batch);
    const first = await iter.next();
    expect(first.done).toBe(false);
    expect(first.value!.messageId).toBe(sent);
    expect(new TextDecoder().decode(first.value!.bytes)).toBe(text);
    expect(first.value!.from).toBeUndefined();
    expect(first.value!.latencyMs).toBeGreaterThanOrEqual(0);
    const bs = bob.client.stats();
    expect(bs.received_real).toBe(1);
    expect(bs.fragments_received).toBe(toBob.length + 1);
    expect(bs.duplicates_ignored).toBe(1);
    expect(bs.dummies_discarded).toBe(3);
    expect(bs.packets_received).toBe(batch.length);

    // Alice's loops come back 1.5 s (simulated) after the first pull.
    alice.sim.advance(1500);
    const loopCopies = toAlice.map((p) => p.slice());
    await alice.handlers().onPackets(toAlice);
    let as = alice.client.stats();
    expect(as.loops_returned).toBe(toAlice.length);
    expect(as.loop_rtt_ms.count).toBe(toAlice.length);
    expect(as.loop_rtt_ms.min!).toBeGreaterThanOrEqual(1500);
    expect(as.loop_rtt_ms.max!).toBeLessThanOrEqual(3500);
    expect(alice.client.loopRttSamples().length).toBe(toAlice.length);
    // A replayed loop is not counted twice.
    await alice.handlers().onPackets(loopCopies);
    as = alice.client.stats();
    expect(as.loops_returned).toBe(toAlice.length);
    expect(as.invalid_received.unknown_loop).toBe(toAlice.length);
    // Bob cannot open Alice's loops.
    await bob.handlers().onPackets([toAlice[0]!.slice()]);
    expect(bob.client.stats().received_real).toBe(1);

    await bob.client.stop();
    expect((await iter.next()).done).toBe(true);
    await alice.client.stop();
  });

  it('send() rejects oversize messages naming bytes, malformed addresses and unknown providers', async () => {
    const { client } = makeClient(P0.id, { maxMessageBytes: 1000 });
    await expect(client.send(client.address, new Uint8Array(1001))).rejects.toMatchObject({
      code: 'ERR_LOOPIX_CLIENT_MESSAGE',
      field: 'bytes',
    });
    await expect(client.send('loopix1:zz', new Uint8Array(1))).rejects.toMatchObject({
      code: 'ERR_LOOPIX_CLIENT_RECIPIENT',
      field: 'recipient',
    });
    await expect(
      client.send({ providerId: 'ab'.repeat(16), publicKey: new Uint8Array(32) }, new Uint8Array(1)),
    ).rejects.toThrow(/not a provider/);
    await expect(client.send(client.address, new Uint8Array(1), { replySurbs: 65 })).rejects.toMatchObject({
      code: 'ERR_LOOPIX_CLIENT_MESSAGE',
      field: 'replySurbs',
    });
    const ok = client.send(client.address, new Uint8Array(1000));
    ok.catch(() => {});
    expect(ok.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(client.address).toBe(`loopix1:${P0.id}:${toHex(client.publicKey)}`);
  });

  it('refuses a key pair whose halves do not match and a provider that is not in the topology', () => {
    const a = keyPair(backend),
      b = keyPair(backend);
    const params = NetworkParamsSchema.parse({});
    expect(() =>
      createNodeClient({
        config: { providerId: P0.id, params },
        keyPair: { publicKey: a.publicKey, privateKey: b.privateKey },
        topology: net.topology,
        backend,
      }),
    ).toThrow(/does not belong/);
    expect(() =>
      createNodeClient({
        config: { providerId: net.topology.layerNodes[1]![0]!.id, params },
        keyPair: a,
        topology: net.topology,
        backend,
      }),
    ).toThrow(/not a provider/);
  });
});
