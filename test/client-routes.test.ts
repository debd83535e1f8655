/**
 * Client paths (docs/pipeline.md "Paths"): one node per layer, the right commands and addresses, Exp(µ)
 * delays — and packets built on them unwrap correctly hop by hop with the process's real SphinxBackend.
 */
import { describe, expect, it } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { fragmentMessage, Reassembler } from '../src/client/fragments.js';
import {
  dropRoute,
  loopRoute,
  messageRoute,
  postOfficeRoute,
  sampleDelayUs,
  surbRoute,
  toAddress,
} from '../src/client/routes.js';
import { TopologyIndex } from '../src/topology/topology-index.js';
import type { AnyTopology } from '../src/topology/types.js';
import { Command, MAX_DELAY_US } from '../src/sphinx/types.js';
import { clientBackend, keyPair, makeNetwork, route, toHex } from './client-fixtures.js';

const backend = clientBackend();
const net = makeNetwork(backend, { layers: 3, perLayer: 3, providers: 3 });
const g = net.geometry;
const P = net.providers;
/** The commands of a route through the provider and three mix layers (four RELAY hops), then `last` ones. */
const throughFourRelays = (...last: number[]) => [Command.RELAY, Command.RELAY, Command.RELAY, Command.RELAY, ...last];
const sender = keyPair(backend);
const recipient = keyPair(backend);
const mu = 2;

describe('client routes', () => {
  it('a message path is P_s, one mix per layer L1..L3, P_r, recipient with RELAY×4, DELIVER(client id), FINAL(message id)', () => {
    const messageId = crypto.getRandomValues(new Uint8Array(g.addressBytes));
    for (let i = 0; i < 50; i++) {
      const r = messageRoute(
        net.topology,
        P[0]!.id,
        { providerId: P[1]!.id, publicKey: recipient.publicKey },
        messageId,
        { mu },
      );
      expect(r.kind).toBe('message');
      expect(r.epoch).toBe(7);
      expect(r.nodes.map((n) => n.layer)).toEqual([0, 1, 2, 3, 0]);
      expect(r.nodes[0]!.id).toBe(P[0]!.id);
      expect(r.nodes[4]!.id).toBe(P[1]!.id);
      expect(r.hops.map((h) => h.command)).toEqual(throughFourRelays(Command.DELIVER, Command.FINAL));
      for (let h = 0; h < 4; h++) {
        expect(toHex(r.hops[h]!.address)).toBe(r.nodes[h + 1]!.id);
        expect(toHex(r.hops[h]!.publicKey)).toBe(r.nodes[h]!.publicKey);
      }
      expect(toHex(r.hops[4]!.address)).toBe(toHex(clientIdOf(g, recipient.publicKey)));
      expect(toHex(r.hops[5]!.publicKey)).toBe(toHex(recipient.publicKey));
      expect(toHex(r.hops[5]!.address)).toBe(toHex(messageId));
      expect(r.hops[5]!.delayUs).toBe(0);
      for (const h of r.hops) {
        expect(Number.isInteger(h.delayUs)).toBe(true);
        expect(h.delayUs).toBeGreaterThanOrEqual(0);
        expect(h.delayUs).toBeLessThanOrEqual(MAX_DELAY_US);
        expect(h.address.length).toBe(g.addressBytes);
      }
    }
  });

  it('paths are fresh and random: every mix of every layer gets used', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      for (const n of dropRoute(net.topology, P[0]!.id, { mu }).nodes.slice(1, 4)) seen.add(n.id);
    }
    expect(seen.size).toBe(9);
  });

  it('a loop goes back through the own provider to the sender with DELIVER(own client id), LOOP(loop id)', () => {
    const loopId = crypto.getRandomValues(new Uint8Array(g.addressBytes));
    const r = loopRoute(net.topology, P[2]!.id, sender.publicKey, loopId, { mu });
    expect(r.nodes.map((n) => n.layer)).toEqual([0, 1, 2, 3, 0]);
    expect(r.nodes[0]!.id).toBe(P[2]!.id);
    expect(r.nodes[4]!.id).toBe(P[2]!.id);
    expect(r.hops.map((h) => h.command)).toEqual(throughFourRelays(Command.DELIVER, Command.LOOP));
    expect(toHex(r.hops[4]!.address)).toBe(toHex(clientIdOf(g, sender.publicKey)));
    expect(toHex(r.hops[5]!.publicKey)).toBe(toHex(sender.publicKey));
    expect(toHex(r.hops[5]!.address)).toBe(toHex(loopId));
  });

  it('a drop goes P_s, L1..L3, a random provider with DROP (zero address, no delay)', () => {
    const last = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const r = dropRoute(net.topology, P[0]!.id, { mu });
      expect(r.hops.length).toBe(5);
      expect(r.nodes.map((n) => n.layer)).toEqual([0, 1, 2, 3, 0]);
      expect(r.hops.map((h) => h.command)).toEqual(throughFourRelays(Command.DROP));
      expect(r.hops[4]!.address).toEqual(new Uint8Array(g.addressBytes));
      expect(r.hops[4]!.delayUs).toBe(0);
      last.add(r.nodes[4]!.id);
    }
    expect(last.size).toBe(3);
  });

  it('every kind of path, post office requests included, avoids the nodes a directory document excluded', () => {
    // A directory document (AnonPoP §2) that excluded one mix of each layer; provider 2 is the post office.
    const excluded = [1, 2, 3].map((layer) => net.topology.layerNodes[layer]![0]!.id);
    const doc: AnyTopology = {
      ...net.topology.doc,
      nodes: net.topology.doc.nodes.map((n) => (n.id === P[2]!.id ? { ...n, postOffice: true as const } : n)),
      directory: {
        authorities: [net.authorityPublicKey],
        threshold: 1,
        isolation: { f: 0, expectedFraction: 0.9, alpha: 0.01, minDue: 5, ttlEpochs: 1 },
        removedLinks: [],
        excluded,
        evidence: [],
      },
    };
    const topo = new TopologyIndex(doc);
    const id = new Uint8Array(g.addressBytes);
    const kinds = [
      () => messageRoute(topo, P[0]!.id, { providerId: P[1]!.id, publicKey: recipient.publicKey }, id, { mu }),
      () => loopRoute(topo, P[0]!.id, sender.publicKey, id, { mu }),
      () => dropRoute(topo, P[0]!.id, { mu }),
      () => surbRoute(topo, P[1]!.id, P[0]!.id, sender.publicKey, id, { mu }),
      () => postOfficeRoute(topo, P[0]!.id, P[2]!.id, { mu }),
    ];
    for (const make of kinds)
      for (let i = 0; i < 60; i++) for (const n of make().nodes) expect(excluded).not.toContain(n.id);
  });

  it('per-hop delays are Exp(µ) in microseconds, at most the bound, and a broken random source cannot make sampling loop', () => {
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sampleDelayUs(mu);
    const mean = sum / n;
    expect(Math.abs(mean - 1e6 / mu)).toBeLessThan((5 * 1e6) / mu / Math.sqrt(n));
    expect(sampleDelayUs(1e-9)).toBeLessThanOrEqual(MAX_DELAY_US);
    expect(sampleDelayUs(1e-9, () => 1e-300)).toBe(MAX_DELAY_US);
    expect(sampleDelayUs(mu, () => 1)).toBe(0);
  });

  it('rejects an unknown provider and a topology deeper than maxHops', () => {
    expect(() => dropRoute(net.topology, 'ff'.repeat(16), { mu })).toThrow(/not a provider/);
    const deep = makeNetwork(backend, { layers: 5, perLayer: 1, providers: 1 });
    expect(() => dropRoute(deep.topology, deep.providers[0]!.id, { mu })).toThrow(/maxHops/);
  });
});

describe(`client packets unwrap hop by hop (${backend.name} backend)`, () => {
  it('a message packet relays through its path, is delivered to the recipient client id, and ends final at the recipient key with the fragment', () => {
    const bytes = new TextEncoder().encode('hello, loopix');
    const { messageId, contents } = fragmentMessage(g, bytes, { maxMessageBytes: 65536 });
    const r = messageRoute(
      net.topology,
      P[0]!.id,
      { providerId: P[1]!.id, publicKey: recipient.publicKey },
      toAddress(g, messageId),
      { mu },
    );
    const packet = backend.createPacket(g, { epoch: r.epoch, hops: r.hops, content: contents[0]! });
    expect(packet.length).toBe(g.packetBytes);
    const routed = route(backend, net, P[0]!.id, packet);
    expect(routed.trace.map((t) => t.nodeId)).toEqual(r.nodes.map((n) => n.id));
    routed.trace.slice(0, 4).forEach((t, i) => {
      expect(t.result.kind).toBe('relay');
      if (t.result.kind === 'relay') expect(t.result.delayUs).toBe(r.hops[i]!.delayUs);
    });
    expect(routed.delivered?.clientId).toBe(toHex(clientIdOf(g, recipient.publicKey)));
    expect(routed.delivered?.providerId).toBe(P[1]!.id);
    const last = backend.unwrap(g, recipient.privateKey, routed.delivered!.packet);
    expect(last.kind).toBe('final');
    if (last.kind !== 'final') return;
    expect(toHex(last.id)).toBe(toHex(messageId));
    const done = new Reassembler(g, { maxMessageBytes: 65536 }).add(last.content);
    expect(done.status).toBe('complete');
    if (done.status === 'complete') expect(new TextDecoder().decode(done.message.bytes)).toBe('hello, loopix');
    // The wrong key does not open it.
    const again = routed.delivered!.packet;
    expect(backend.unwrap(g, sender.privateKey, again).kind).toBe('invalid');
  });

  it('a loop packet returns through the own provider and ends loop at the sender with its loop id', () => {
    const loopId = crypto.getRandomValues(new Uint8Array(g.addressBytes));
    const r = loopRoute(net.topology, P[0]!.id, sender.publicKey, loopId, { mu });
    const packet = backend.createPacket(g, { epoch: r.epoch, hops: r.hops, content: new Uint8Array(g.contentBytes) });
    const routed = route(backend, net, P[0]!.id, packet);
    expect(routed.delivered?.providerId).toBe(P[0]!.id);
    expect(routed.delivered?.clientId).toBe(toHex(clientIdOf(g, sender.publicKey)));
    const last = backend.unwrap(g, sender.privateKey, routed.delivered!.packet);
    expect(last.kind).toBe('loop');
    if (last.kind === 'loop') expect(toHex(last.id)).toBe(toHex(loopId));
  });

  it('a drop packet ends drop at the chosen provider', () => {
    const r = dropRoute(net.topology, P[0]!.id, { mu });
    const packet = backend.createPacket(g, { epoch: r.epoch, hops: r.hops, content: new Uint8Array(g.contentBytes) });
    const routed = route(backend, net, P[0]!.id, packet);
    expect(routed.trace.map((t) => t.result.kind)).toEqual(['relay', 'relay', 'relay', 'relay', 'drop']);
    expect(routed.trace[4]!.nodeId).toBe(r.nodes[4]!.id);
  });
});
