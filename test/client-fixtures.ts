/**
 * Shared fixtures for the client tests: a signed topology with real X25519 keys, an in-process "network" that
 * unwraps a packet hop by hop with the nodes' private keys (ignoring delays), and a small but faithful
 * provider peer for the WebSocket protocol of src/protocol/frames.ts (challenge, proof verification with real
 * X25519, pull replies of exactly k packets with dummies, ack).
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { clientIdOf } from '../src/address.js';
import type { KeyPair } from '../src/client/client.js';
import { makeGeometry, type Geometry, type GeometryParams } from '../src/geometry.js';
import { acceptAuth, linkSizes, randomizeTopBit, type RecordLayer } from '../src/protocol/channel.js';
import { decodeFrame, encode, ErrorCode, unpad } from '../src/protocol/frames.js';
import { loadSphinx } from '../src/sphinx/loader.js';
import { loadNativeBackend } from '../src/sphinx/native.js';
import type { SphinxBackend, UnwrapResult } from '../src/sphinx/types.js';
import { freeTcpPort } from '../src/testnet/network.js';
import { generateAuthorityKey, signTopology, TopologyIndex } from '../src/topology/document.js';
import type { NodeEntry, SignedTopology } from '../src/topology/types.js';

export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function keyPair(backend: SphinxBackend): KeyPair {
  const privateKey = crypto.getRandomValues(new Uint8Array(32));
  return { privateKey, publicKey: backend.x25519Base(privateKey) };
}

export interface TestNetwork {
  readonly topology: TopologyIndex;
  readonly geometry: Geometry;
  readonly privateKeys: ReadonlyMap<string, Uint8Array>;
  readonly providers: readonly NodeEntry[];
  /** The directory authority's Ed25519 public key (hex) that signed the topology. */
  readonly authorityPublicKey: string;
}

export function makeNetwork(
  backend: SphinxBackend,
  o: {
    layers?: number;
    perLayer?: number;
    providers?: number;
    geometry?: Partial<GeometryParams>;
    wsUrls?: string[];
    epoch?: number;
    epochLengthS?: number;
    epochStartMs?: number;
  } = {},
): TestNetwork {
  const layers = o.layers ?? 3;
  const perLayer = o.perLayer ?? 2;
  const providerCount = o.providers ?? 2;
  const geometry = makeGeometry(o.geometry);
  const privateKeys = new Map<string, Uint8Array>();
  const nodes: NodeEntry[] = [];
  let port = 40000;
  const add = (name: string, role: 'mix' | 'provider', layer: number, ws?: string) => {
    const id = toHex(crypto.getRandomValues(new Uint8Array(geometry.addressBytes)));
    const kp = keyPair(backend);
    privateKeys.set(id, kp.privateKey);
    nodes.push({
      id,
      name,
      role,
      layer,
      udp: { host: '127.0.0.1', port: port++ },
      ...(ws ? { ws } : {}),
      publicKey: toHex(kp.publicKey),
    });
  };
  for (let i = 0; i < providerCount; i++)
    add(`provider${i}`, 'provider', 0, o.wsUrls?.[i] ?? `ws://127.0.0.1:${41000 + i}`);
  for (let layer = 1; layer <= layers; layer++)
    for (let i = 0; i < perLayer; i++) add(`mix${layer}.${i}`, 'mix', layer);
  const authority = generateAuthorityKey();
  const doc = signTopology(
    {
      version: 1,
      epoch: o.epoch ?? 7,
      issuedAt: new Date(0).toISOString(),
      geometry: { maxHops: geometry.maxHops, addressBytes: geometry.addressBytes, contentBytes: geometry.contentBytes },
      layers,
      nodes,
      ...(o.epochLengthS !== undefined ? { epochLengthS: o.epochLengthS, epochStartMs: o.epochStartMs ?? 0 } : {}),
    },
    authority,
  );
  const topology = new TopologyIndex(doc);
  return {
    topology,
    geometry: topology.geometry,
    privateKeys,
    providers: topology.providers,
    authorityPublicKey: authority.publicKey,
  };
}

/** The same network with provider `providerIndex` listed as a post office (`postOffice: true`), signed anew. */
export function withPostOffice(base: TestNetwork, providerIndex: number): TestNetwork {
  const { signature: _s, ...body } = base.topology.doc as SignedTopology;
  const poId = base.providers[providerIndex]!.id;
  const authority = generateAuthorityKey();
  const topology = new TopologyIndex(
    signTopology(
      { ...body, nodes: body.nodes.map((n) => (n.id === poId ? { ...n, postOffice: true as const } : n)) },
      authority,
    ),
  );
  return { ...base, topology, providers: topology.providers, authorityPublicKey: authority.publicKey };
}

export interface HopTrace {
  readonly nodeId: string;
  readonly result: UnwrapResult;
}

export interface Routed {
  /** Each node hop's unwrap result, in order. */
  readonly trace: HopTrace[];
  /** The packet as the recipient's provider stores it (after DELIVER), or undefined. */
  readonly delivered?: { clientId: string; providerId: string; packet: Uint8Array };
}

/** Runs `packet` from its first node (`firstNodeId`) through the network, unwrapping at each node. */
export function route(
  backend: SphinxBackend,
  net: TestNetwork,
  firstNodeId: string,
  packet: Uint8Array,
  maxHops = 16,
): Routed {
  const trace: HopTrace[] = [];
  let at = firstNodeId;
  const p = packet.slice();
  for (let i = 0; i < maxHops; i++) {
    const sk = net.privateKeys.get(at);
    if (!sk) throw new Error(`no node ${at}`);
    const result = backend.unwrap(net.geometry, sk, p);
    trace.push({ nodeId: at, result });
    if (result.kind === 'relay') {
      at = toHex(result.next);
      continue;
    }
    if (result.kind === 'deliver')
      return { trace, delivered: { clientId: toHex(result.client), providerId: at, packet: p } };
    return { trace };
  }
  throw new Error('path too long');
}

// --- a provider peer over `ws` ---------------------------------------------------------------------------

export interface TestProviderOptions {
  readonly backend: SphinxBackend;
  readonly net: TestNetwork;
  /** This provider's id (SUBMITs enter the network here). */
  readonly providerId: string;
  readonly pullK: number;
  /** Where DELIVERed packets go: every test provider of one test shares one inbox map. */
  readonly inboxes: Map<string, Uint8Array[]>;
  readonly port?: number;
  /** Public keys (hex) refused with AUTH_FAILED. */
  readonly refuse?: ReadonlySet<string>;
}

/** The provider side of src/protocol/frames.ts, with the network behind it simulated by `route`. */
export class TestProvider {
  server: WebSocketServer | undefined;
  port = 0;
  readonly submitted: Uint8Array[] = [];
  readonly log: string[] = [];
  authenticated = 0;
  pulls = 0;
  acks = 0;
  drops = 0;
  readonly replySizes: number[] = [];
  private readonly sockets = new Set<WebSocket>();

  constructor(readonly o: TestProviderOptions) {}

  async start(port = this.o.port ?? 0): Promise<number> {
    const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    server.on('connection', (ws) => this.session(ws));
    return this.port;
  }

  /** Closes the server and drops every connection abruptly (a crash or restart). */
  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get connections(): number {
    return this.sockets.size;
  }

  private session(ws: WebSocket): void {
    const { backend, net } = this.o;
    const g = net.geometry;
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    let state: 'hello' | 'auth' | 'ready' = 'hello';
    let clientPk: Uint8Array | undefined;
    let clientId = '';
    let ephSk = new Uint8Array(0);
    let hello: Uint8Array = new Uint8Array(0);
    let challenge: Uint8Array = new Uint8Array(0);
    let link: RecordLayer | null = null;
    const sizes = linkSizes(g, this.o.pullK);
    const send = (frame: Uint8Array) => ws.send(link ? link.seal(frame) : frame);
    const pending = new Map<number, number>(); // request id → packets taken from the inbox
    const fail = (code: (typeof ErrorCode)[keyof typeof ErrorCode], message: string) => {
      this.log.push(`error ${code} ${message}`);
      send(encode.error(code, message));
      ws.close();
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return fail(ErrorCode.MALFORMED, 'text frame');
      let bytes: Uint8Array | null = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (link) {
        const opened = link.open(bytes);
        bytes = 'frame' in opened ? unpad(g, this.o.pullK, opened.frame) : null;
        if (bytes === null) return fail(ErrorCode.MALFORMED, 'record does not open');
      }
      const f = decodeFrame(g, bytes);
      if (f.type === 'malformed') return fail(ErrorCode.MALFORMED, f.reason);
      if (state === 'hello') {
        if (f.type !== 'hello') return fail(ErrorCode.UNEXPECTED, `expected HELLO, got ${f.type}`);
        hello = bytes.slice();
        ephSk = crypto.getRandomValues(new Uint8Array(32));
        challenge = encode.challenge(
          crypto.getRandomValues(new Uint8Array(32)),
          randomizeTopBit(backend.x25519Base(ephSk)),
        );
        ws.send(challenge);
        state = 'auth';
        return;
      }
      if (state === 'auth') {
        if (f.type !== 'auth') return fail(ErrorCode.UNEXPECTED, `expected AUTH, got ${f.type}`);
        const accepted = acceptAuth({
          helloFrame: hello,
          challengeFrame: challenge,
          agree: (peer) => {
            const s = backend.x25519(ephSk, peer);
            return s.every((b) => b === 0) ? null : s;
          },
          sealedKey: f.sealedKey,
          proof: f.proof,
          sizes,
        });
        if (accepted === null) return fail(ErrorCode.AUTH_FAILED, 'bad proof');
        clientPk = accepted.publicKey;
        if (this.o.refuse?.has(toHex(clientPk))) return fail(ErrorCode.AUTH_FAILED, 'refused');
        link = accepted.link;
        clientId = toHex(clientIdOf(g, clientPk));
        state = 'ready';
        this.authenticated++;
        send(encode.authOk());
        return;
      }
      switch (f.type) {
        case 'submit': {
          this.submitted.push(Uint8Array.from(f.packet));
          const r = route(backend, net, this.o.providerId, f.packet);
          if (r.delivered) {
            const box = this.o.inboxes.get(r.delivered.clientId) ?? [];
            box.push(r.delivered.packet);
            this.o.inboxes.set(r.delivered.clientId, box);
          } else this.drops++;
          return;
        }
        case 'pull': {
          this.pulls++;
          const acked = f.ackId !== 0 ? pending.get(f.ackId) : undefined;
          if (acked !== undefined) {
            pending.delete(f.ackId);
            this.acks++;
            (this.o.inboxes.get(clientId) ?? []).splice(0, acked);
          }
          const box = this.o.inboxes.get(clientId) ?? [];
          const already = [...pending.values()].reduce((a, b) => a + b, 0);
          const stored = box.slice(already, already + this.o.pullK);
          pending.set(f.requestId, stored.length);
          const dummies = Array.from({ length: this.o.pullK - stored.length }, () =>
            crypto.getRandomValues(new Uint8Array(g.packetBytes)),
          );
          const packets = [...stored, ...dummies];
          this.replySizes.push(packets.length);
          send(encode.pullReply(g, f.requestId, packets));
          return;
        }
        case 'ack': {
          const n = pending.get(f.requestId);
          if (n === undefined) return fail(ErrorCode.UNEXPECTED, `ACK for unknown request ${f.requestId}`);
          pending.delete(f.requestId);
          this.acks++;
          const box = this.o.inboxes.get(clientId) ?? [];
          box.splice(0, n);
          return;
        }
        default:
          return fail(ErrorCode.UNEXPECTED, `unexpected ${f.type}`);
      }
    });
  }
}

/** Client parameters against TestProviders: λP + λL + λD = 50/s, µ = 1000/s (no waiting), pulls of k = 4 every 20 ms. */
export const FAST_PARAMS = { lambdaP: 40, lambdaL: 5, lambdaD: 5, mu: 1000, pullK: 4, pullIntervalMs: 20 } as const;

/**
 * A network of two providers (one mix layer) whose providers are TestProviders on free ports of 127.0.0.1, named
 * by their WebSocket URLs in the topology, sharing one inbox map, and started. A provider restarted with
 * `stop()` and `start()` comes back on its port.
 */
export async function startTestProviders(
  backend: SphinxBackend,
  o: { readonly pullK: number; readonly refuse?: ReadonlySet<string> },
): Promise<{ net: TestNetwork; providers: TestProvider[]; inboxes: Map<string, Uint8Array[]> }> {
  const ports = [await freeTcpPort(), await freeTcpPort()];
  const net = makeNetwork(backend, { providers: 2, perLayer: 1, wsUrls: ports.map((p) => `ws://127.0.0.1:${p}`) });
  const inboxes = new Map<string, Uint8Array[]>();
  const providers = net.providers.map(
    (p, i) =>
      new TestProvider({
        backend,
        net,
        providerId: p.id,
        pullK: o.pullK,
        inboxes,
        port: ports[i]!,
        ...(o.refuse ? { refuse: o.refuse } : {}),
      }),
  );
  for (const p of providers) await p.start();
  return { net, providers, inboxes };
}

/** Polls `cond` every 10 ms until true; throws after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let cachedBackend: SphinxBackend | undefined;

/**
 * The process's backend (loadSphinx). While the Sphinx implementations are being changed, their start-up
 * self-check against the pinned vector may fail even though both agree with each other; the client tests then
 * fall back to the native addon directly (its parity with the twin is tested elsewhere), saying so once.
 */
export function clientBackend(): SphinxBackend {
  if (cachedBackend) return cachedBackend;
  try {
    cachedBackend = loadSphinx().backend;
  } catch (err) {
    process.stderr.write(
      `client tests: loadSphinx() failed (${(err as Error).message}); using the native addon directly\n`,
    );
    cachedBackend = loadNativeBackend();
  }
  return cachedBackend;
}
