/**
 * A real mix node in this process (real UDP sockets on 127.0.0.1, the piscina crypto pool, the native
 * addon): valid packets come out at the next layer after their header delay; every malformed, misrouted or
 * replayed packet is dropped and counted by reason.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMixNode, type RunningNode } from '../src/node/mix.js';
import { Command } from '../src/sphinx/types.js';
import { native } from './helpers/backends.js';
import { buildPacket, LinkPeer, makeNetwork, type TestNetwork } from './node-fixture.js';

let net: TestNetwork;
let mix: RunningNode;
let L2: LinkPeer;
/** provider-0, before layer 1: the only node mix-1.0 accepts datagrams from. */
let provider: LinkPeer;
const sendUdp = (_port: number, packets: readonly Uint8Array[]) => provider.send('mix-1.0', packets);

beforeAll(async () => {
  net = await makeNetwork(native, { layers: 3, perLayer: 1 });
  L2 = await LinkPeer.bind(net, 'mix-2.0', native.x25519);
  provider = await LinkPeer.bind(net, 'provider-0', native.x25519);
  mix = await startMixNode(net.setup('mix-1.0'), { backend: native, loops: false, reportStats: false });
});

afterAll(async () => {
  await mix?.close();
  await L2?.close();
  await provider?.close();
  net?.cleanup();
});

/** A packet for the path P → L1 → L2 → L3 → P, already past P (so it starts at L1). */
function packetFromL1(delayUs: number, overrides: { next?: Uint8Array; epoch?: number } = {}): Uint8Array {
  const n = net.nodes;
  return buildPacket(
    native,
    net,
    [
      {
        node: n['mix-1.0']!.entry,
        command: Command.RELAY,
        delayUs,
        ...(overrides.next ? { address: overrides.next } : {}),
      },
      { node: n['mix-2.0']!.entry, command: Command.RELAY, delayUs: 1000 },
      { node: n['mix-3.0']!.entry, command: Command.RELAY, delayUs: 1000 },
      { node: n['provider-0']!.entry, command: Command.DELIVER, address: new Uint8Array(16).fill(9), delayUs: 0 },
    ],
    overrides.epoch,
  );
}

const dropped = (reason: string) => mix.snapshot().dropped[reason] ?? 0;

describe('mix node pipeline', () => {
  it('forwards a valid packet to the next layer after the header delay, unwrapped for the next hop', async () => {
    const before = L2.received.length;
    const packet = packetFromL1(300_000);
    const sentAt = performance.now();
    await sendUdp(mix.port, [packet]);
    await L2.waitFor(before + 1, 5000);
    const got = L2.received[before]!;
    expect(got.at - sentAt).toBeGreaterThanOrEqual(295);
    expect(got.packet.length).toBe(net.g.packetBytes);
    // The next hop can unwrap it: the mix really did its layer.
    const r = native.unwrap(net.g, net.nodes['mix-2.0']!.privateKey, Uint8Array.from(got.packet));
    expect(r).toMatchObject({ kind: 'relay', delayUs: 1000 });
    if (r.kind === 'relay') expect(Buffer.from(r.next).toString('hex')).toBe(net.nodes['mix-3.0']!.entry.id);
    await vi.waitFor(() => expect(mix.snapshot().counters.forwarded).toBeGreaterThanOrEqual(1), { timeout: 2000 });
    const s = mix.snapshot();
    expect(s.latency_overhead.count).toBeGreaterThanOrEqual(1);
    expect(s.latency_overhead.max_ms).toBeLessThan(250);
  });

  it('holds packets for their own delays, so a shorter delay overtakes a longer one', async () => {
    const before = L2.received.length;
    const slow = packetFromL1(400_000);
    const fast = packetFromL1(50_000);
    await sendUdp(mix.port, [slow, fast]);
    await L2.waitFor(before + 2, 5000);
    const first = native.unwrap(net.g, net.nodes['mix-2.0']!.privateKey, Uint8Array.from(L2.received[before]!.packet));
    expect(first.kind).toBe('relay');
    expect(L2.received[before + 1]!.at - L2.received[before]!.at).toBeGreaterThan(250);
  });

  it('drops and counts datagrams of the wrong size', async () => {
    const before = dropped('bad_size');
    await provider.sendRaw(mix.port, [
      new Uint8Array(10),
      new Uint8Array(net.g.datagramBytes + 1),
      new Uint8Array(net.g.datagramBytes - 1),
    ]);
    await vi.waitFor(() => expect(dropped('bad_size')).toBe(before + 3), { timeout: 2000 });
  });

  it('drops and counts packets whose MAC does not verify', async () => {
    const before = dropped('invalid_mac');
    const packet = packetFromL1(1000);
    packet[net.g.offsets.beta + 3]! ^= 0x01;
    const other = packetFromL1(1000);
    other[net.g.offsets.gamma]! ^= 0x80;
    await sendUdp(mix.port, [packet, other]);
    await vi.waitFor(() => expect(dropped('invalid_mac')).toBe(before + 2), { timeout: 3000 });
  });

  it('drops and counts a packet for another key epoch before any crypto', async () => {
    const before = dropped('wrong_epoch');
    await sendUdp(mix.port, [packetFromL1(1000, { epoch: net.topology.epoch + 1 })]);
    await vi.waitFor(() => expect(dropped('wrong_epoch')).toBe(before + 1), { timeout: 2000 });
  });

  it('drops and counts a relay to an unknown node id, and to a node outside the adjacent layer', async () => {
    const unknown = dropped('unknown_next');
    const layer = dropped('bad_layer');
    const forwarded = L2.received.length;
    await sendUdp(mix.port, [
      packetFromL1(1000, { next: new Uint8Array(16).fill(0xab) }),
      packetFromL1(1000, { next: Buffer.from(net.nodes['mix-3.0']!.entry.id, 'hex') }),
      packetFromL1(1000, { next: Buffer.from(net.nodes['provider-0']!.entry.id, 'hex') }),
    ]);
    await vi.waitFor(
      () =>
        expect({ unknown: dropped('unknown_next'), layer: dropped('bad_layer') }).toEqual({
          unknown: unknown + 1,
          layer: layer + 2,
        }),
      { timeout: 3000 },
    );
    expect(L2.received.length).toBe(forwarded);
  });

  it('drops a replayed packet at the node that sees it twice', async () => {
    const before = dropped('replay');
    const forwarded = L2.received.length;
    const packet = packetFromL1(20_000);
    await sendUdp(mix.port, [packet, packet, packet]);
    await vi.waitFor(() => expect(dropped('replay')).toBe(before + 2), { timeout: 3000 });
    await L2.waitFor(forwarded + 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(L2.received.length).toBe(forwarded + 1);
  });

  it('drops and counts a DELIVER command that reaches a mix', async () => {
    const before = dropped('deliver_at_mix');
    const p = buildPacket(native, net, [
      { node: net.nodes['mix-1.0']!.entry, command: Command.DELIVER, address: new Uint8Array(16), delayUs: 0 },
      { node: net.nodes['mix-2.0']!.entry, command: Command.FINAL, address: new Uint8Array(16) },
    ]);
    await sendUdp(mix.port, [p]);
    await vi.waitFor(() => expect(dropped('deliver_at_mix')).toBe(before + 1), { timeout: 3000 });
  });

  it('accounts for every datagram: received = forwarded + dropped + held', async () => {
    await vi.waitFor(
      () => {
        const { scheduled_packets, queue_packets, in_flight_packets } = mix.snapshot().gauges;
        expect({ scheduled_packets, queue_packets, in_flight_packets }).toEqual({
          scheduled_packets: 0,
          queue_packets: 0,
          in_flight_packets: 0,
        });
      },
      { timeout: 3000 },
    );
    const s = mix.snapshot();
    expect(s.counters.received).toBe(s.counters.forwarded! + s.dropped_total);
    expect(s.gauges.socket_recv_buffer_bytes).toBeGreaterThan(0);
    expect(s.gauges.aqm_drop_probability).toBe(0);
  });
});
