/**
 * Provider failures and abuse with a real provider process (`node bin/loopix.js provider`, IPC stats) on
 * loopback: a SIGKILL while storing at a high rate loses nothing it acknowledged (docs/pipeline.md §"Crash
 * safety: what "stored" means"); clients reconnect by themselves after a restart and still get what was
 * stored before it; the configured abuse limits are in force in the running node.
 *
 * Packets reach the provider over UDP exactly as the last mix layer would send them: Sphinx packets whose
 * first hop is the provider with DELIVER(client id), then FINAL at the client, built with the native backend.
 * Only the provider runs (the mix of the one-layer topology is not started): the test takes its address and
 * key and seals every datagram on the link as that mix would (test/helpers/link-peer.ts).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { LoopixClient } from '../src/client/client.js';
import { createNodeClient } from '../src/client/node.js';
import { fragmentMessage } from '../src/client/fragments.js';
import { NetworkParamsSchema } from '../src/config/schema.js';
import { encode, ErrorCode } from '../src/protocol/frames.js';
import { Command } from '../src/sphinx/types.js';
import { type TestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { keys, RawPeer, sleep, waitFor, type Keys } from './hardening-helpers.js';
import { LinkPeer } from './helpers/link-peer.js';
import { LONE_PROVIDER_PARAMS, startLoneProvider } from './helpers/lone-provider.js';
import type { ProcessNet } from './helpers/process-net.js';
import { native } from './helpers/backends.js';

const PULL_INTERVAL_MS = 50;
const params = { ...LONE_PROVIDER_PARAMS, pullIntervalMs: PULL_INTERVAL_MS, pullK: 512 };
let net: TestnetFiles;
let pn: ProcessNet | undefined;
let provider: NodeProcess;
/** The mix of the one-layer topology (not started): the only node the provider accepts datagrams from. */
let udp: LinkPeer;
const clients: LoopixClient[] = [];

const g = () => net.index.geometry;
const providerEntry = () => net.index.providers[0]!;

/** A DELIVER packet for `to` carrying `content` (FINAL with `finalAddress` at the client). */
function deliverPacket(to: Uint8Array, content: Uint8Array, finalAddress: Uint8Array): Uint8Array {
  const p = providerEntry();
  return native.createPacket(g(), {
    epoch: net.topology.epoch & 0xffff,
    hops: [
      {
        publicKey: Uint8Array.from(Buffer.from(p.publicKey, 'hex')),
        command: Command.DELIVER,
        address: clientIdOf(g(), to),
        delayUs: 0,
      },
      { publicKey: to, command: Command.FINAL, address: finalAddress, delayUs: 0 },
    ],
    content,
  });
}

/** Packet `seq` for `to`: the sequence number in the FINAL address and the content. */
function numbered(to: Uint8Array, seq: number): Uint8Array {
  const id = new Uint8Array(g().addressBytes);
  new DataView(id.buffer).setUint32(0, seq);
  return deliverPacket(to, id, id);
}

function sendUdp(packets: readonly Uint8Array[]): void {
  udp.sendNow(providerEntry(), packets);
}

const counter = (name: string): number => provider.last?.counters[name] ?? 0;

/** A raw client of the provider, retried until the restarted process listens. */
function connectWhenUp(): Promise<RawPeer | undefined> {
  return waitFor(
    async () => {
      const peer = new RawPeer(providerEntry().ws!, g(), params.pullK);
      return peer.opened.then(
        () => peer,
        () => undefined,
      );
    },
    10_000,
    100,
  );
}

/** Pulls (and acknowledges) until a reply holds only dummies; returns the sequence numbers of what it held. */
async function drain(peer: RawPeer, me: Keys): Promise<number[]> {
  const seqs: number[] = [];
  for (let id = 1; ; id++) {
    const packets = await peer.pull(id, 10_000);
    let real = 0;
    for (const p of packets) {
      const r = native.unwrap(g(), me.secret, p);
      if (r.kind === 'final') {
        real++;
        seqs.push(new DataView(r.id.buffer, r.id.byteOffset).getUint32(0));
      }
    }
    peer.send(encode.ack(id));
    if (real === 0) return seqs;
    await sleep(PULL_INTERVAL_MS); // the pull schedule: faster pulls would be throttled
  }
}

beforeAll(async () => {
  ({ pn, mix: udp } = await startLoneProvider({ prefix: 'loopix-hardening-', params }));
  net = pn.files;
  provider = pn.nodes[0]!;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await udp?.close();
  await pn?.close();
});

describe('a provider process', () => {
  it('killed with SIGKILL while storing at a high rate, delivers after restart every packet it had acknowledged as stored, once', async () => {
    const bob = keys();
    const ENOUGH = 500;
    const TOTAL = 8000;
    const packets = Array.from({ length: TOTAL }, (_, seq) => numbered(bob.publicKey, seq));

    // Phase 1, gently: every packet acknowledged (delivered = 500 in a stats report) before the storm.
    for (let at = 0; at < ENOUGH; at += 50) {
      sendUdp(packets.slice(at, at + 50));
      await sleep(20);
    }
    await waitFor(() => (counter('delivered') >= ENOUGH ? true : undefined), 20_000);
    expect(counter('delivered'), JSON.stringify(provider.last?.dropped)).toBe(ENOUGH);

    // Phase 2: a stream of ~8000 packets/s (40 every 5 ms), SIGKILLed once ~2000 more were acknowledged.
    let next = ENOUGH;
    const storm = setInterval(() => {
      sendUdp(packets.slice(next, next + 40));
      next = Math.min(TOTAL, next + 40);
    }, 5);
    // ~2000 more acknowledged, or (on a slow machine) most of the stream sent: kill while still sending.
    const reached = await waitFor(
      () => (counter('delivered') >= ENOUGH + 2000 || next >= 0.8 * TOTAL ? true : undefined),
      30_000,
      5,
    );
    await provider.kill();
    clearInterval(storm);
    expect(reached).toBe(true);
    expect(next).toBeLessThan(TOTAL); // killed mid-stream
    // Every report that reached us was written before the kill: its count is an acknowledgement.
    const acknowledged = counter('delivered');
    const sent = next;
    expect(acknowledged).toBeGreaterThan(ENOUGH);

    provider.start();
    await provider.ready;
    expect(provider.last?.gauges.inbox_packets as number).toBeGreaterThanOrEqual(acknowledged);
    const peer = (await connectWhenUp())!;
    expect((await peer.authenticate(bob))?.type).toBe('authOk');
    const seqs = await drain(peer, bob);
    peer.terminate();

    expect(new Set(seqs).size).toBe(seqs.length); // nothing duplicated
    expect(seqs.length).toBeGreaterThanOrEqual(acknowledged); // nothing acknowledged lost
    expect(seqs.length).toBeLessThanOrEqual(sent);
    expect(seqs.every((s) => s < sent)).toBe(true);
    const have = new Set(seqs);
    for (let s = 0; s < ENOUGH; s++) expect(have.has(s)).toBe(true); // the individually acknowledged ones, by name
    // The inbox is empty once acknowledged.
    await waitFor(() => (provider.last?.gauges.inbox_packets === 0 ? true : undefined), 3000);
    expect(provider.last?.gauges.inbox_packets).toBe(0);
  }, 90_000);

  it('restarts under a connected client, which reconnects by itself with backoff and still gets what was stored before', async () => {
    const bobKeys = keys();
    // Bob pulls once on connecting and then only a minute later: what is stored below waits in his inbox.
    const bob = createNodeClient({
      config: {
        providerId: providerEntry().id,
        params: NetworkParamsSchema.parse({ ...params, pullIntervalMs: 60_000 }),
      },
      keyPair: { publicKey: bobKeys.publicKey, privateKey: bobKeys.secret },
      topology: net.index,
      backend: native,
      backoff: { initialMs: 100, maxMs: 2000 },
    });
    clients.push(bob);
    bob.start();
    await bob.waitConnected(15_000);
    await sleep(300); // bob's first pull (empty) is answered

    const sent = new Map<string, Buffer>();
    for (let m = 0; m < 3; m++) {
      const bytes = Buffer.from(`message ${m} stored before the restart`);
      const frag = fragmentMessage(g(), bytes, { maxMessageBytes: 1024 });
      sent.set(Buffer.from(frag.messageId).toString('hex'), bytes);
      sendUdp(frag.contents.map((c) => deliverPacket(bobKeys.publicKey, c, frag.messageId)));
    }
    const before = counter('delivered');
    expect(await waitFor(() => (counter('delivered') >= before + 3 ? true : undefined), 10_000)).toBe(true);

    // A crash and a clean restart, one after the other; bob is never restarted by the test.
    for (const how of ['SIGKILL', 'SIGTERM'] as const) {
      const { authenticated, connect_attempts: attemptsBefore } = bob.stats().connection!;
      if (how === 'SIGKILL') await provider.kill();
      else expect(await provider.stop()).toBe(0);
      await sleep(700); // down for a while: bob's reconnect attempts fail and back off
      // Retrying, but backing off (100 ms doubling): a handful of attempts, not a tight loop.
      const attempts = bob.stats().connection!.connect_attempts - attemptsBefore;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(6);
      provider.start();
      await provider.ready;
      await bob.waitConnected(15_000);
      expect(bob.stats().connection!.authenticated).toBe(authenticated + 1);
    }
    expect(bob.stats().connection!.disconnects).toBe(2);

    const got = new Map<string, Buffer>();
    const it = bob.messages()[Symbol.asyncIterator]();
    while (got.size < sent.size) {
      const next = await Promise.race([it.next(), sleep(15_000).then(() => null)]);
      if (next === null || next.done) break;
      got.set(next.value.messageId, Buffer.from(next.value.bytes));
    }
    expect(got).toEqual(sent);
  }, 90_000);

  it('enforces its configured abuse limits: a SUBMIT flood is throttled, counted and closed with RATE_LIMITED', async () => {
    const peer = (await connectWhenUp())!;
    expect((await peer.authenticate(keys()))?.type).toBe('authOk');
    // Defaults: 2 × (λP + λL + λD) = 8 packets/s, a bucket of 10 s = 80 packets; closed at 80 in debt.
    const junk = new Uint8Array(g().packetBytes);
    for (let i = 0; i < 400 && !peer.isClosed; i++) peer.send(encode.submit(g(), junk));
    let last = await peer.next();
    while (last && last.type !== 'error') last = await peer.next();
    expect(last).toMatchObject({ type: 'error', code: ErrorCode.RATE_LIMITED });
    expect((await peer.closed).code).toBe(1008);
    const stats = await waitFor(() => (counter('ws_rate_limited') >= 1 ? provider.last : undefined), 3000);
    // 80 over the bucket closes it (a few more may pass while the flood lasts: the bucket refills at 8/s).
    expect(stats?.counters.ws_submit_throttled).toBeGreaterThanOrEqual(80);
    expect(stats?.counters.ws_submit_throttled).toBeLessThan(90);
    expect(stats?.counters.ws_submit).toBeGreaterThanOrEqual(80);
    expect(stats?.counters.ws_submit).toBeLessThan(90);
  });
});
