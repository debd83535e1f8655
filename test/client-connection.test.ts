/**
 * The client's WebSocket session against a small but faithful provider peer (test/client-fixtures.ts
 * TestProvider: challenge, X25519 proof check, pull replies of exactly k packets padded with dummies, ACK
 * deletes), with the network behind the providers simulated hop by hop. Loopback only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { LoopixClient, type ReceivedMessage } from '../src/client/client.js';
import { createNodeClient } from '../src/client/node.js';
import type { LogLike } from '../src/client/connection.js';
import { NetworkParamsSchema } from '../src/config/schema.js';
import {
  clientBackend,
  FAST_PARAMS,
  keyPair,
  startTestProviders,
  TestProvider,
  toHex,
  waitFor,
  type TestNetwork,
} from './client-fixtures.js';

const backend = clientBackend();
const params = NetworkParamsSchema.parse({ ...FAST_PARAMS, lambdaL: 10 });

interface Setup {
  net: TestNetwork;
  providers: TestProvider[];
  inboxes: Map<string, Uint8Array[]>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(refuse: string[] = []): Promise<Setup> {
  const made = await startTestProviders(backend, { pullK: params.pullK, refuse: new Set(refuse) });
  cleanups.push(async () => {
    for (const p of made.providers) await p.stop();
  });
  return made;
}

function client(net: TestNetwork, providerIndex: number, keys = keyPair(backend), log?: LogLike): LoopixClient {
  const c = createNodeClient({
    config: { providerId: net.providers[providerIndex]!.id, params },
    keyPair: keys,
    topology: net.topology,
    backend,
    backoff: { initialMs: 50, maxMs: 400 },
    ...(log ? { log } : {}),
  });
  cleanups.push(() => c.stop());
  return c;
}

async function take(c: LoopixClient, n: number, timeoutMs = 15_000): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  const it = c.messages()[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    const r = await Promise.race([
      it.next(),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(0, left))),
    ]);
    if (r === 'timeout') throw new Error(`received ${out.length} of ${n} messages in ${timeoutMs} ms`);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('client ↔ provider WebSocket session', () => {
  it('authenticates by challenge-response, pulls k packets per reply with ACKs, and carries messages and loops end to end', async () => {
    const { net, providers } = await setup();
    const alice = client(net, 0);
    const bob = client(net, 1);
    alice.start();
    bob.start();
    await Promise.all([alice.waitConnected(5000), bob.waitConnected(5000)]);
    expect(providers[0]!.authenticated).toBe(1);
    expect(providers[1]!.authenticated).toBe(1);

    const text = `hello bob ${'·'.repeat(1500)}`;
    const sent = alice.send(bob.address, new TextEncoder().encode(text));
    sent.catch(() => {});
    const id = sent.messageId;
    const [m] = await take(bob, 1);
    expect(m!.messageId).toBe(id);
    expect(new TextDecoder().decode(m!.bytes)).toBe(text);
    await waitFor(() => alice.stats().loops_returned >= 3, 10_000, 'loops to return');
    // ACKs ride on the next scheduled PULL (src/client/connection.ts): wait for one beyond the replies above.
    await waitFor(
      () => alice.stats().connection!.pulls_sent > 3 && alice.stats().connection!.acks_sent > 0,
      10_000,
      'a PULL carrying an ACK',
    );

    const as = alice.stats();
    expect(as.connected).toBe(true);
    const delivery = await sent; // bob acknowledged every fragment
    expect(as.sent_real).toBeGreaterThanOrEqual(delivery.fragments);
    expect(as.loop_rtt_ms.count).toBeGreaterThanOrEqual(3);
    expect(as.dummies_discarded).toBeGreaterThan(0);
    expect(as.connection!.pulls_sent).toBeGreaterThan(3);
    expect(as.connection!.acks_sent).toBeGreaterThan(0);
    expect(Object.keys(as.invalid_received)).toEqual([]);
    // Every pull reply held exactly k packets.
    expect(new Set(providers[0]!.replySizes)).toEqual(new Set([params.pullK]));
    expect(providers[1]!.acks).toBeGreaterThan(0);
  });

  it('a recipient that is offline while messages are sent receives all of them after it connects', async () => {
    const { net, inboxes } = await setup();
    const alice = client(net, 0);
    const bobKeys = keyPair(backend);
    const bobAddress = `loopix1:${net.providers[1]!.id}:${toHex(bobKeys.publicKey)}`;
    alice.start();
    await alice.waitConnected(5000);
    const ids: string[] = [];
    // The five messages share one envelope (same recipient, queued together); sends resolve once bob acks.
    const sends = Array.from({ length: 5 }, (_, i) =>
      alice.send(bobAddress, new TextEncoder().encode(`message ${i} ${'x'.repeat(i * 700)}`)),
    );
    for (const h of sends) h.catch(() => {});
    for (const h of sends) ids.push(h.messageId);
    await alice.flushed(10_000);
    const bobInbox = toHex(clientIdOf(net.geometry, bobKeys.publicKey));
    const fragments = alice.stats().sent_real;
    await waitFor(() => (inboxes.get(bobInbox)?.length ?? 0) === fragments, 5000, 'fragments stored for bob');

    const bob = client(net, 1, bobKeys);
    bob.start();
    const got = await take(bob, 5);
    expect(got.map((m) => m.messageId).sort()).toEqual(ids.slice().sort());
    for (const m of got) expect(new TextDecoder().decode(m.bytes)).toMatch(/^message \d x*$/);
    // Bob's acks reach alice: every send resolves; retransmissions alice made while bob was away stop.
    await expect(Promise.all(sends)).resolves.toHaveLength(5);
    await waitFor(() => (inboxes.get(bobInbox)?.length ?? 0) === 0, 15_000, 'bob to acknowledge his packets');
  });

  it('reconnects by itself with backoff after the provider restarts, then keeps sending and receiving', async () => {
    const { net, providers } = await setup();
    const alice = client(net, 0);
    alice.start();
    await alice.waitConnected(5000);
    const p0 = providers[0]!;
    const port = p0.port;
    await p0.stop();
    await waitFor(() => !alice.connected, 5000, 'the client to notice');
    await new Promise((r) => setTimeout(r, 600)); // several failed attempts (connection refused)
    expect(alice.stats().connection!.connect_attempts).toBeGreaterThan(2);
    const skipped = alice.stats().skipped_offline;
    expect(skipped.payload + skipped.loop + skipped.drop).toBeGreaterThan(0);
    await p0.start(port);
    await alice.waitConnected(5000);
    const s = alice.stats().connection!;
    expect(s.authenticated).toBe(2);
    expect(s.disconnects).toBe(1);
    // The session works again: a message to ourselves goes out and comes back.
    const id = alice.send(alice.address, new TextEncoder().encode('after restart')).messageId;
    const [m] = await take(alice, 1);
    expect(m!.messageId).toBe(id);
    expect(new TextDecoder().decode(m!.bytes)).toBe('after restart');
  });

  it('surfaces an ERROR frame (authentication refused) and keeps retrying without sending', async () => {
    const keys = keyPair(backend);
    const { net, providers } = await setup([toHex(keys.publicKey)]);
    const warnings: string[] = [];
    const log: LogLike = {
      debug() {},
      info() {},
      error() {},
      warn: (o, msg) => warnings.push(`${msg} ${JSON.stringify(o)}`),
    };
    const alice = client(net, 0, keys, log);
    alice.start();
    await waitFor(() => (alice.stats().connection!.errors.auth_failed ?? 0) >= 2, 5000, 'two refusals');
    expect(alice.connected).toBe(false);
    expect(alice.stats().sent_drop_cover + alice.stats().loops_sent + alice.stats().drops_sent).toBe(0);
    expect(providers[0]!.submitted.length).toBe(0);
    expect(warnings.some((w) => w.includes('provider sent ERROR') && w.includes('refused'))).toBe(true);
  });
});
