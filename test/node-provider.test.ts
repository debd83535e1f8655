/**
 * A provider in this process: client submissions are processed as the packet's first hop, DELIVER packets
 * land in the client's inbox (still encrypted for the client), DROP cover is discarded and counted; and a
 * two-layer network of a real provider and a real mix, where the mix's loops come back — until the provider
 * disappears and the mix raises its (n-1) alarm and its cover rate.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { startMixNode, type RunningNode } from '../src/node/mix.js';
import { startProviderNode, type RunningProvider } from '../src/node/provider.js';
import type { Inbox, StoredPacket } from '../src/provider/types.js';
import { Command } from '../src/sphinx/types.js';
import type { NodeEntry } from '../src/topology/types.js';
import { native } from './helpers/backends.js';
import { buildPacket, LinkPeer, makeNetwork, type TestNetwork } from './node-fixture.js';

class MemoryInbox implements Inbox {
  readonly boxes = new Map<string, StoredPacket[]>();
  private nextId = 1;
  closed = false;
  store(clientId: Uint8Array, packet: Uint8Array): void {
    const key = Buffer.from(clientId).toString('hex');
    const box = this.boxes.get(key) ?? [];
    box.push({ id: this.nextId++, packet: Uint8Array.from(packet) });
    this.boxes.set(key, box);
  }
  fetch(clientId: Uint8Array, k: number): StoredPacket[] {
    return (this.boxes.get(Buffer.from(clientId).toString('hex')) ?? []).slice(0, k);
  }
  remove(): void {}
  count(clientId: Uint8Array): number {
    return this.boxes.get(Buffer.from(clientId).toString('hex'))?.length ?? 0;
  }
  close(): void {
    this.closed = true;
  }
}

let net: TestNetwork;
beforeAll(async () => {
  net = await makeNetwork(native, { layers: 1, perLayer: 1, providers: 2 });
});
afterAll(() => net?.cleanup());

describe('provider pipeline', () => {
  let provider: RunningProvider;
  /** Layer 1 (the last mix layer here): where the provider forwards to, and the only node it accepts datagrams from. */
  let L1: LinkPeer;
  const sendUdp = (_port: number, packets: readonly Uint8Array[]) => L1.send('provider-0', packets);
  const inbox = new MemoryInbox();
  let P0: NodeEntry, P1: NodeEntry, M1: NodeEntry;

  beforeAll(async () => {
    ({ P0, P1 } = { P0: net.nodes['provider-0']!.entry, P1: net.nodes['provider-1']!.entry });
    M1 = net.nodes['mix-1.0']!.entry;
    L1 = await LinkPeer.bind(net, 'mix-1.0', native.x25519);
    provider = await startProviderNode(
      net.setup('provider-0', { provider: { dataDir: net.dir, listen: { host: '127.0.0.1', port: 0 } } }),
      { backend: native, inbox, loops: false, reportStats: false },
    );
  });
  afterAll(async () => {
    await provider?.close();
    await L1?.close();
  });

  const dropped = (reason: string) => provider.snapshot().dropped[reason] ?? 0;

  it('processes a client-submitted packet as its first hop and forwards it to layer 1', async () => {
    const packet = buildPacket(native, net, [
      { node: P0, command: Command.RELAY, delayUs: 10_000 },
      { node: M1, command: Command.RELAY, delayUs: 0 },
      { node: P1, command: Command.DROP },
    ]);
    provider.pipeline.submit(packet);
    await L1.waitFor(1);
    const r = native.unwrap(net.g, net.nodes['mix-1.0']!.privateKey, Uint8Array.from(L1.received[0]!.packet));
    expect(r.kind).toBe('relay');
    expect(provider.snapshot().counters.client_submitted).toBe(1);
    expect(provider.wsPort).toBeGreaterThan(0); // the client front end is listening
    expect(typeof provider.snapshot().gauges.uws_native).toBe('number');
  });

  it('stores a DELIVER packet in the client inbox, still encrypted for the client', async () => {
    const clientSk = Uint8Array.from(randomBytes(32));
    const clientPk = native.x25519Base(clientSk);
    const clientId = clientIdOf(net.g, clientPk);
    const clientHop = {
      id: '00'.repeat(16),
      name: 'client',
      role: 'provider',
      layer: 0,
      udp: { host: '127.0.0.1', port: 1 },
      publicKey: Buffer.from(clientPk).toString('hex'),
    } as NodeEntry;
    const packet = buildPacket(native, net, [
      { node: P0, command: Command.DELIVER, address: clientId, delayUs: 20_000 },
      { node: clientHop, command: Command.FINAL, address: new Uint8Array(16).fill(4) },
    ]);
    await sendUdp(provider.port, [packet]);
    await vi.waitFor(() => expect(inbox.count(clientId)).toBe(1), { timeout: 3000 });
    await vi.waitFor(() => expect(provider.snapshot().counters.delivered).toBe(1), { timeout: 1000 });
    const stored = inbox.fetch(clientId, 1)[0]!.packet;
    const r = native.unwrap(net.g, clientSk, Uint8Array.from(stored));
    expect(r.kind).toBe('final');
    if (r.kind === 'final') expect(Buffer.from(r.content.subarray(0, 5)).toString()).toBe('hello');
  });

  it('discards and counts a drop cover packet', async () => {
    const before = dropped('drop_cover');
    await sendUdp(provider.port, [buildPacket(native, net, [{ node: P0, command: Command.DROP }])]);
    await vi.waitFor(() => expect(dropped('drop_cover')).toBe(before + 1), { timeout: 3000 });
  });

  it('refuses a relay to another provider (not the adjacent layer)', async () => {
    const before = dropped('bad_layer');
    await sendUdp(provider.port, [
      buildPacket(native, net, [
        { node: P0, command: Command.RELAY },
        { node: P1, command: Command.DROP },
      ]),
    ]);
    await vi.waitFor(() => expect(dropped('bad_layer')).toBe(before + 1), { timeout: 3000 });
  });

  it('closes the inbox it was given when it stops', async () => {
    await provider.close();
    expect(inbox.closed).toBe(true);
  });
});

describe('mix loops through a real provider', () => {
  it('come back while the network works, and raise the alarm and the cover rate when they stop', async () => {
    const params = { lambdaM: 20, mu: 500, loopWindowS: 4, loopAlarmFraction: 0.7, loopAlarmRateFactor: 2 };
    // One mix layer and two providers: a loop from M1 goes P_random → M1 (self).
    const provider = await startProviderNode(net.setup('provider-0', { params }), {
      backend: native,
      inbox: new MemoryInbox(),
      frontEnd: false,
      loops: false,
      reportStats: false,
    });
    const provider2 = await startProviderNode(net.setup('provider-1', { params }), {
      backend: native,
      inbox: new MemoryInbox(),
      frontEnd: false,
      loops: false,
      reportStats: false,
    });
    const mix: RunningNode = await startMixNode(net.setup('mix-1.0', { params }), {
      backend: native,
      reportStats: false,
    });
    try {
      await vi.waitFor(
        () => {
          const g = mix.snapshot().gauges;
          expect(g.loops_due_in_window as number).toBeGreaterThanOrEqual(10);
          expect(g.loop_return_fraction).toBe(1);
        },
        { timeout: 8000 },
      );
      const s = mix.snapshot();
      expect(s.counters.loops_returned).toBeGreaterThan(0);
      expect(s.gauges.loop_alarm).toBe(false);
      expect(s.gauges.loop_rate_per_s).toBe(20);
      expect(s.loop_rtt.count).toBeGreaterThan(0);

      await provider.close();
      await provider2.close();
      await vi.waitFor(() => expect(mix.snapshot().gauges.loop_alarm).toBe(true), { timeout: 10_000 });
      expect(mix.snapshot().gauges.loop_rate_per_s).toBe(40);
      expect(mix.snapshot().gauges.loop_return_fraction as number).toBeLessThan(0.7);
    } finally {
      await mix.close();
      await provider.close();
      await provider2.close();
    }
  });
});
