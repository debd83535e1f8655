/**
 * End to end across real processes: providers and mixes run as `node bin/loopix.js provider|mix` children on
 * loopback with real keys and a signed topology; clients are real LoopixClients (and raw WebSocket peers)
 * speaking the real protocol. Fast parameters (µ = 20/s, 200 ms pulls) keep the suite short; the testnet
 * contract with default parameters is checked in test/testnet.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LoopixClient } from '../src/client/client.js';
import { fragmentCapacity } from '../src/client/fragments.js';
import { NetworkParamsSchema } from '../src/config/schema.js';
import { authProof, decodeFrame, encode, ErrorCode, type Frame } from '../src/protocol/frames.js';
import { createTestnetFiles, writeKeyFile, type TestnetFiles } from '../src/testnet/network.js';
import { NodeProcess } from '../src/testnet/processes.js';
import { native } from './helpers/backends.js';

const params = { lambdaP: 10, lambdaL: 2, lambdaD: 2, lambdaM: 2, mu: 20, pullIntervalMs: 200, pullK: 6 };
let dir: string;
let net: TestnetFiles;
let nodes: NodeProcess[];
const clients: LoopixClient[] = [];

function makeClient(name: string, providerIndex = 0, overrides: Partial<typeof params> = {}): LoopixClient {
  const { publicKey, privateKey } = writeKeyFile(join(dir, `${name}.key.json`), native);
  const client = new LoopixClient({
    config: { providerId: net.index.providers[providerIndex]!.id, params: NetworkParamsSchema.parse({ ...params, ...overrides }) },
    keyPair: { publicKey: Buffer.from(publicKey, 'hex'), privateKey },
    topology: net.index,
    backend: native,
  });
  clients.push(client);
  return client;
}

async function nextMessages(client: LoopixClient, n: number, timeoutMs: number) {
  const got: { messageId: string; bytes: Uint8Array }[] = [];
  const iterator = client.messages()[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (got.length < n) {
    const next = await Promise.race([iterator.next(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(0, deadline - Date.now())))]);
    if (next === null || next.done) break;
    got.push(next.value);
  }
  return got;
}

/** A raw WebSocket peer that speaks the protocol frame by frame. */
async function rawPeer(url: string) {
  const ws = new WebSocket(url);
  ws.binaryType = 'nodebuffer';
  const frames: Frame[] = [];
  let closed: number | null = null;
  const waiters: (() => void)[] = [];
  ws.on('message', (data: Buffer) => {
    frames.push(decodeFrame(net.index.geometry, new Uint8Array(data)));
    waiters.splice(0).forEach((w) => w());
  });
  ws.on('close', (code) => {
    closed = code;
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (): Promise<Frame | null> => {
    while (frames.length === 0 && closed === null) await new Promise<void>((r) => waiters.push(r));
    return frames.shift() ?? null;
  };
  return { ws, next, closedCode: () => closed, waitClose: () => new Promise<number>((r) => (closed !== null ? r(closed) : ws.once('close', (c) => r(c)))) };
}

async function authenticate(peer: Awaited<ReturnType<typeof rawPeer>>, privateKey: Uint8Array, claimedPublicKey?: Uint8Array) {
  const publicKey = claimedPublicKey ?? native.x25519Base(privateKey);
  peer.ws.send(encode.hello(publicKey));
  const challenge = await peer.next();
  if (challenge?.type !== 'challenge') throw new Error(`expected a challenge, got ${challenge?.type}`);
  peer.ws.send(encode.auth(authProof(native.x25519(privateKey, challenge.ephemeral), challenge.nonce, publicKey)));
  return peer.next();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loopix-e2e-'));
  net = await createTestnetFiles({
    dir,
    shape: { layers: 3, perLayer: 1, providers: 2, epoch: 3 },
    backend: native,
    params,
    nodeConfig: { pipeline: { workers: 1 }, statsIntervalS: 0.5, log: { level: 'warn' } },
  });
  nodes = net.nodes.map((n) => new NodeProcess(n, dir));
  for (const n of nodes) n.start();
  await Promise.all(nodes.map((n) => n.ready));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all((nodes ?? []).map((n) => n.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a network of real node processes', () => {
  it('delivers messages of 1 byte, exactly one payload and ten payloads intact, also to a recipient that was offline', async () => {
    const alice = makeClient('alice', 0);
    const bob = makeClient('bob', 1);
    alice.start();
    await alice.waitConnected(15_000);
    const cap = fragmentCapacity(net.index.geometry);
    const sizes = [1, cap, 10 * cap];
    const sent = new Map<string, Buffer>();
    for (const size of sizes) {
      const bytes = Buffer.from(Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff));
      sent.set(await alice.send(bob.address, bytes), bytes);
    }
    expect(sizes.map((s) => alice.fragmentsFor(s))).toEqual([1, 1, 10]);
    // Bob is offline while all twelve fragments travel and wait in his provider's inbox.
    await alice.flushed(20_000);
    await new Promise((r) => setTimeout(r, 1500));
    bob.start();
    await bob.waitConnected(15_000);
    const received = await nextMessages(bob, 3, 30_000);
    expect(received.length).toBe(3);
    for (const m of received) expect(Buffer.from(m.bytes).equals(sent.get(m.messageId)!)).toBe(true);
  });

  it('answers every pull with exactly k packets of one size, stored ones first, then dummies', async () => {
    const peer = await rawPeer(net.index.providers[0]!.ws!);
    const key = Uint8Array.from(Buffer.alloc(32, 7));
    expect((await authenticate(peer, key))?.type).toBe('authOk');
    for (let id = 1; id <= 3; id++) {
      peer.ws.send(encode.pull(id));
      const reply = await peer.next();
      if (reply?.type !== 'pullReply') throw new Error(`expected a pull reply, got ${reply?.type}`);
      expect(reply.requestId).toBe(id);
      expect(reply.packets.length).toBe(params.pullK);
      for (const p of reply.packets) expect(p.length).toBe(net.index.geometry.packetBytes);
    }
    peer.ws.close();
  });

  it('refuses an unauthenticated pull, and a pull with another client’s key but without its secret', async () => {
    const url = net.index.providers[0]!.ws!;
    const anonymous = await rawPeer(url);
    anonymous.ws.send(encode.pull(1));
    const refusal = await anonymous.next();
    expect(refusal).toMatchObject({ type: 'error', code: ErrorCode.UNEXPECTED });
    expect(await anonymous.waitClose()).toBeGreaterThanOrEqual(1000);

    const victim = native.x25519Base(Uint8Array.from(Buffer.alloc(32, 9)));
    const impostor = await rawPeer(url);
    const answer = await authenticate(impostor, Uint8Array.from(Buffer.alloc(32, 11)), victim);
    expect(answer).toMatchObject({ type: 'error', code: ErrorCode.AUTH_FAILED });
    expect(await impostor.waitClose()).toBeGreaterThanOrEqual(1000);
  });

  it('drops a replayed packet at the node that sees it twice and counts it by reason', async () => {
    const provider = nodes.find((n) => n.node.role === 'provider')!;
    const before = (await provider.nextStats())?.dropped.replay ?? 0;
    const peer = await rawPeer(provider.node.entry.ws!);
    expect((await authenticate(peer, Uint8Array.from(Buffer.alloc(32, 5))))?.type).toBe('authOk');
    const carol = makeClient('carol', 0);
    const { messageRoute } = await import('../src/client/routes.js');
    const route = messageRoute(net.index, provider.node.entry.id, { providerId: net.index.providers[1]!.id, publicKey: carol.publicKey }, new Uint8Array(16), { mu: params.mu });
    const packet = native.createPacket(net.index.geometry, { epoch: net.topology.epoch, hops: route.hops, content: new Uint8Array(1) });
    peer.ws.send(encode.submit(net.index.geometry, packet));
    peer.ws.send(encode.submit(net.index.geometry, packet));
    let after = before;
    for (let i = 0; i < 10 && after === before; i++) after = (await provider.nextStats())?.dropped.replay ?? 0;
    expect(after - before).toBe(1);
    peer.ws.close();
  });

  it('sends at λP + λL + λD whether or not the client has real messages queued', async () => {
    const provider = nodes.find((n) => n.node.entry.id === net.index.providers[1]!.id)!;
    const rate = { lambdaP: 20, lambdaL: 5, lambdaD: 5 };
    const measure = async (busy: boolean) => {
      const c = makeClient(busy ? 'busy' : 'idle', 1, rate);
      c.start();
      await c.waitConnected(15_000);
      if (busy) for (let i = 0; i < 40; i++) await c.send(c.address, new Uint8Array(3000));
      const start = c.stats();
      await new Promise((r) => setTimeout(r, 8000));
      const end = c.stats();
      await c.stop();
      const sent = (s: typeof start) => s.sent_real + s.sent_drop_cover + s.loops_sent + s.drops_sent;
      return { total: sent(end) - sent(start), real: end.sent_real - start.sent_real };
    };
    const idle = await measure(false);
    const busy = await measure(true);
    const expected = (rate.lambdaP + rate.lambdaL + rate.lambdaD) * 8; // 240 packets in 8 s
    const tolerance = 5 * Math.sqrt(expected); // five standard deviations of a Poisson count
    expect(Math.abs(idle.total - expected)).toBeLessThan(tolerance);
    expect(Math.abs(busy.total - expected)).toBeLessThan(tolerance);
    expect(idle.real).toBe(0);
    expect(busy.real).toBeGreaterThan(100); // real fragments replaced the λP drops
    expect(provider.last?.counters.ws_submit).toBeGreaterThan(0);
  }, 60_000);
});
