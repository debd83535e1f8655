/**
 * Authenticated node ↔ node links (docs/packet-format.md "Link layer") on real node processes, attacked
 * from raw UDP sockets on loopback the way an outsider or a misbehaving node would:
 *  - a datagram from an address that is no node (a bare Sphinx packet, or a correctly sealed datagram sent
 *    from another port) is dropped as link_unauthenticated — also at a provider, so clients reach a
 *    provider only through its WebSocket sessions;
 *  - a correct datagram captured and sent again is dropped as link_replay;
 *  - a datagram from a node of a non-adjacent layer, sealed with that node's real link key, is wrong_layer;
 *  - a datagram with one flipped bit (header, body or tag) is link_unauthenticated;
 * while the datagrams of the adjacent layer go through and leave sealed for the next layer: what crosses
 * the wire carries no byte of the Sphinx packet in clear.
 *
 * Network: providers P0 (process under test) and P1 (the test, as a node identity), mixes M1 (process
 * under test, layer 1) and M2 (the test, layer 2). M1 accepts only P0 and P1; P0 accepts only M2.
 */
import dgram from 'node:dgram';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { deriveLinkKey, nativeLinkCipher } from '../src/node/link/index.js';
import { loadNodeKeyFile } from '../src/node/keys.js';
import { Command } from '../src/sphinx/types.js';
import { type TestnetFiles, type TestnetNode } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { lightNodeConfig, startProcessNet, type ProcessNet } from './helpers/process-net.js';
import { native } from './helpers/backends.js';
import { LinkPeer } from './helpers/link-peer.js';

let pn: ProcessNet | undefined;
let files: TestnetFiles;
let mix: NodeProcess;
let provider: NodeProcess;
let P1: LinkPeer;
let M2: LinkPeer;
let node: (name: string) => TestnetNode;

beforeAll(async () => {
  pn = await startProcessNet({
    prefix: 'loopix-link-',
    start: (n) => n.name === 'mix-1.0' || n.name === 'provider-0',
    shape: { layers: 2, perLayer: 1, providers: 2, epoch: 3 },
    backend: native,
    params: { lambdaM: 1e-4 }, // no own loops: every datagram at the test's peers is the test's
    nodeConfig: lightNodeConfig({ statsIntervalS: 0.1, log: 'warn' }),
  });
  files = pn.files;
  node = (name) => files.nodes.find((n) => n.name === name)!;
  mix = pn.node('mix-1.0');
  provider = pn.node('provider-0');
  P1 = await LinkPeer.fromKeyFile(files.index, node('provider-1').entry, node('provider-1').keyFile, native.x25519);
  M2 = await LinkPeer.fromKeyFile(files.index, node('mix-2.0').entry, node('mix-2.0').keyFile, native.x25519);
}, 60_000);

afterAll(async () => {
  await pn?.close();
  await P1?.close();
  await M2?.close();
});

/** A packet for M1 → M2 → P0 (drop cover at P0). */
function packetForM1(delayUs = 0): Uint8Array {
  const key = (n: string) => Uint8Array.from(Buffer.from(node(n).entry.publicKey, 'hex'));
  const id = (n: string) => Uint8Array.from(Buffer.from(node(n).entry.id, 'hex'));
  return native.createPacket(files.index.geometry, {
    epoch: files.topology.epoch & 0xffff,
    hops: [
      { publicKey: key('mix-1.0'), command: Command.RELAY, address: id('mix-2.0'), delayUs },
      { publicKey: key('mix-2.0'), command: Command.RELAY, address: id('provider-0'), delayUs: 0 },
      { publicKey: key('provider-0'), command: Command.DROP, address: new Uint8Array(16), delayUs: 0 },
    ],
    content: new Uint8Array([1, 2, 3]),
  });
}

async function fromStranger(port: number, datagrams: readonly Uint8Array[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  for (const d of datagrams) await new Promise<void>((resolve) => s.send(d, port, '127.0.0.1', () => resolve()));
  await new Promise<void>((r) => s.close(() => r()));
}

const dropped = (p: NodeProcess, reason: string) => p.last?.dropped[reason] ?? 0;
const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 8000, interval: 50 });
const m1Port = () => node('mix-1.0').entry.udp.port;

describe('node ↔ node links', () => {
  it('forwards what the previous layer sealed, and seals it for the next layer: no packet byte in clear on the wire', async () => {
    const before = M2.received.length;
    const packet = packetForM1();
    const datagram = P1.seal(packet, node('mix-1.0').entry);
    expect(datagram.length).toBe(files.index.geometry.datagramBytes);
    await P1.sendRaw(m1Port(), [datagram]);
    await M2.waitFor(before + 1, 8000);
    const got = M2.received[before]!;
    expect(got.datagram.length).toBe(files.index.geometry.datagramBytes);
    // M2 can unwrap what M1 forwarded: M1 really did its layer, and the link delivered the packet intact.
    const key = loadNodeKeyFile(node('mix-2.0').keyFile);
    expect(
      native.unwrap(
        files.index.geometry,
        key.kind === 'single' ? key.key.privateKey : new Uint8Array(32),
        Uint8Array.from(got.packet),
      ).kind,
    ).toBe('relay');
    // The public part of the forwarded packet (prefix + the group element α) is not visible on the wire.
    const alpha = got.packet.subarray(0, files.index.geometry.offsets.beta);
    expect(got.datagram.includes(alpha)).toBe(false);
    expect(got.datagram.includes(got.packet.subarray(0, 16))).toBe(false);
  });

  it('drops datagrams from an address that is no node as link_unauthenticated, even when sealed correctly', async () => {
    const before = dropped(mix, 'link_unauthenticated');
    const forwarded = M2.received.length;
    // A bare Sphinx packet, as every node accepted before links were authenticated, padded to the datagram size.
    const bare = new Uint8Array(files.index.geometry.datagramBytes);
    bare.set(packetForM1(), files.index.geometry.linkHeaderBytes);
    // P1's valid datagram, but sent from another port: the source address is part of the identity.
    const sealed = P1.seal(packetForM1(), node('mix-1.0').entry);
    await fromStranger(m1Port(), [bare, sealed]);
    await until(() => dropped(mix, 'link_unauthenticated') === before + 2);
    expect(M2.received.length).toBe(forwarded);
  });

  it('drops a correct datagram sent a second time as link_replay', async () => {
    const before = dropped(mix, 'link_replay');
    const forwarded = M2.received.length;
    const datagram = P1.seal(packetForM1(), node('mix-1.0').entry);
    await P1.sendRaw(m1Port(), [datagram, datagram, datagram]);
    await until(() => dropped(mix, 'link_replay') === before + 2);
    await M2.waitFor(forwarded + 1);
    expect(dropped(mix, 'replay')).toBe(0); // caught by the link, before any Sphinx work
  });

  it('drops a datagram from a node of a non-adjacent layer as wrong_layer, even with that node’s real link key', async () => {
    const before = dropped(mix, 'wrong_layer');
    const forwarded = M2.received.length;
    // M2 (layer 2) may send only to the providers. As a misbehaving M2 would: derive the M2 → M1 key from
    // M2's real private key and M1's published key, and seal by hand.
    const g = files.index.geometry;
    const m2Key = loadNodeKeyFile(node('mix-2.0').keyFile);
    const sk = m2Key.kind === 'single' ? m2Key.key.privateKey : new Uint8Array(32);
    const id = (n: string) => Uint8Array.from(Buffer.from(node(n).entry.id, 'hex'));
    const key = deriveLinkKey(
      native.x25519,
      sk,
      Uint8Array.from(Buffer.from(node('mix-1.0').entry.publicKey, 'hex')),
      files.topology.epoch,
      id('mix-2.0'),
      id('mix-1.0'),
    )!;
    const d = new Uint8Array(g.datagramBytes);
    const view = new DataView(d.buffer);
    view.setUint32(0, files.topology.epoch);
    view.setBigUint64(4, BigInt(Date.now()) << 20n);
    d.set(packetForM1(), g.linkHeaderBytes);
    nativeLinkCipher().sealBatch(key, d, g.packetBytes, 1);
    await M2.sendRaw(m1Port(), [d]);
    // And through its own link layer, which refuses to seal for a node outside the next layer at all.
    expect(() => M2.seal(packetForM1(), node('mix-1.0').entry)).toThrow(/link_no_key/);
    await until(() => dropped(mix, 'wrong_layer') === before + 1);
    expect(M2.received.length).toBe(forwarded);
  });

  it('drops a datagram with one flipped bit in its header, body or tag as link_unauthenticated', async () => {
    const g = files.index.geometry;
    const before = dropped(mix, 'link_unauthenticated');
    const forwarded = M2.received.length;
    const flipped = [7, g.linkHeaderBytes + 100, g.datagramBytes - 1].map((at) => {
      const d = P1.seal(packetForM1(), node('mix-1.0').entry);
      d[at]! ^= 0x01;
      return d;
    });
    await P1.sendRaw(m1Port(), flipped);
    await until(() => dropped(mix, 'link_unauthenticated') === before + 3);
    expect(dropped(mix, 'invalid_mac')).toBe(0); // nothing tampered reached the Sphinx layer
    expect(M2.received.length).toBe(forwarded);
  });

  it('a provider drops client packets sent over UDP (they must come through an authenticated WebSocket session)', async () => {
    const g = files.index.geometry;
    const P0 = node('provider-0').entry;
    const before = dropped(provider, 'link_unauthenticated');
    const delivered = provider.last?.counters.delivered ?? 0;
    // What an anonymous sender would do to reach an inbox without logging in: a DELIVER packet for P0.
    const client = native.x25519Base(Uint8Array.from({ length: 32 }, (_, i) => i + 1));
    const packet = native.createPacket(g, {
      epoch: files.topology.epoch & 0xffff,
      hops: [
        {
          publicKey: Uint8Array.from(Buffer.from(P0.publicKey, 'hex')),
          command: Command.DELIVER,
          address: clientIdOf(g, client),
          delayUs: 0,
        },
        { publicKey: client, command: Command.FINAL, address: new Uint8Array(16), delayUs: 0 },
      ],
      content: new Uint8Array(1),
    });
    const padded = new Uint8Array(g.datagramBytes);
    padded.set(packet, g.linkHeaderBytes);
    await fromStranger(P0.udp.port, [packet, padded]);
    await until(() => dropped(provider, 'link_unauthenticated') + dropped(provider, 'bad_size') >= before + 2);
    expect(dropped(provider, 'link_unauthenticated')).toBe(before + 1);
    expect(provider.last?.counters.delivered ?? 0).toBe(delivered);
    // From M1's address and identity it would be wrong_layer: P0 accepts only the last mix layer (M2).
  });
});
