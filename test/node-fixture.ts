/**
 * A small signed test network for the node tests: real X25519 keys, an Ed25519-signed topology, free UDP
 * ports on 127.0.0.1, config and key files in a temporary directory, and UDP sinks standing in for the
 * neighbours of the node under test.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeGeometry, type Geometry } from '../src/geometry.js';
import { Command, type HopSpec, type SphinxBackend } from '../src/sphinx/types.js';
import { generateAuthorityKey, signTopology, TopologyIndex, type AuthorityKey } from '../src/topology/document.js';
import type { NodeEntry, SignedTopology } from '../src/topology/types.js';
import type { NodeSetup } from '../src/node/pipeline.js';
import { NodeConfigSchema, parseConfig } from '../src/config/schema.js';
import { freeUdpPort, writeKeyFile } from '../src/testnet/network.js';
import { LinkPeer as GenericLinkPeer } from './helpers/link-peer.js';
import { Arrivals } from './helpers/arrivals.js';

export interface TestNode {
  readonly entry: NodeEntry;
  readonly privateKey: Uint8Array;
  readonly keyFile: string;
}

export { freeUdpPort };

export interface TestNetwork {
  readonly dir: string;
  readonly g: Geometry;
  readonly authority: AuthorityKey;
  readonly topology: SignedTopology;
  readonly topologyFile: string;
  readonly index: TopologyIndex;
  /** By name: P0, P1, … (providers) and M<layer>.<i> (mixes). */
  readonly nodes: Record<string, TestNode>;
  /** Writes a node config; `extra` overrides top-level fields. Returns its path. */
  writeConfig(name: string, extra?: Record<string, unknown>): string;
  /** A NodeSetup for in-process tests (config parsed through the real schema). */
  setup(name: string, extra?: Record<string, unknown>): NodeSetup;
  cleanup(): void;
}

export async function makeNetwork(
  backend: SphinxBackend,
  o: { layers?: number; perLayer?: number; providers?: number; epoch?: number } = {},
): Promise<TestNetwork> {
  const layers = o.layers ?? 3;
  const perLayer = o.perLayer ?? 1;
  const providerCount = o.providers ?? 1;
  const epoch = o.epoch ?? 7;
  const g = makeGeometry();
  const dir = mkdtempSync(join(tmpdir(), 'loopix-node-'));
  const authority = generateAuthorityKey();
  const nodes: Record<string, TestNode> = {};
  const specs: { name: string; role: 'mix' | 'provider'; layer: number }[] = [];
  for (let i = 0; i < providerCount; i++) specs.push({ name: `P${i}`, role: 'provider', layer: 0 });
  for (let l = 1; l <= layers; l++)
    for (let i = 0; i < perLayer; i++) specs.push({ name: `M${l}.${i}`, role: 'mix', layer: l });
  for (const s of specs) {
    const keyFile = join(dir, `${s.name}.key.json`);
    const { publicKey, privateKey } = writeKeyFile(keyFile, backend);
    const port = await freeUdpPort();
    const entry: NodeEntry = {
      id: randomBytes(g.addressBytes).toString('hex'),
      name: s.name,
      role: s.role,
      layer: s.layer,
      udp: { host: '127.0.0.1', port },
      ...(s.role === 'provider' ? { ws: `ws://127.0.0.1:${await freeUdpPort()}` } : {}),
      publicKey,
    };
    nodes[s.name] = { entry, privateKey, keyFile };
  }
  const topology = signTopology(
    {
      version: 1,
      epoch,
      issuedAt: new Date(0).toISOString(),
      geometry: { maxHops: g.maxHops, addressBytes: g.addressBytes, contentBytes: g.contentBytes },
      layers,
      nodes: Object.values(nodes).map((n) => n.entry),
    },
    authority,
  );
  const topologyFile = join(dir, 'topology.json');
  writeFileSync(topologyFile, JSON.stringify(topology, null, 2));

  const configObject = (name: string, extra: Record<string, unknown> = {}) => {
    const n = nodes[name]!;
    return {
      id: n.entry.id,
      keyFile: n.keyFile,
      topologyFile,
      authorityPublicKey: authority.publicKey,
      params: { lambdaM: 0.001 },
      pipeline: { workers: 1, socketBufferBytes: 1 << 20 },
      statsIntervalS: 0,
      log: { level: 'silent' },
      ...(n.entry.role === 'provider' ? { provider: { dataDir: join(dir, `${name}-data`) } } : {}),
      ...extra,
    };
  };
  return {
    dir,
    g,
    authority,
    topology,
    topologyFile,
    index: new TopologyIndex(topology),
    nodes,
    writeConfig(name, extra) {
      const file = join(dir, `${name}.config.json`);
      writeFileSync(file, JSON.stringify(configObject(name, extra), null, 2));
      return file;
    },
    setup(name, extra) {
      const n = nodes[name]!;
      const config = parseConfig(NodeConfigSchema, configObject(name, extra), name);
      const index = new TopologyIndex(topology);
      return {
        config,
        topology: index,
        self: index.node(n.entry.id)!,
        keyPair: { publicKey: Buffer.from(n.entry.publicKey, 'hex'), privateKey: n.privateKey },
      };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A hop of a packet path: the node, what it is told, and its delay. */
export interface PathHop {
  readonly node: NodeEntry;
  readonly command: number;
  /** Address for the hop (next node id, client id, loop id); defaults to the next hop's id for RELAY. */
  readonly address?: Uint8Array;
  readonly delayUs?: number;
}

export function buildPacket(
  backend: SphinxBackend,
  net: TestNetwork,
  hops: readonly PathHop[],
  epoch = net.topology.epoch,
): Uint8Array {
  const specs: HopSpec[] = hops.map((h, i) => ({
    publicKey: Buffer.from(h.node.publicKey, 'hex'),
    command: h.command as HopSpec['command'],
    address:
      h.address ??
      (h.command === Command.RELAY ? Buffer.from(hops[i + 1]!.node.id, 'hex') : new Uint8Array(net.g.addressBytes)),
    delayUs: h.delayUs ?? 0,
  }));
  return backend.createPacket(net.g, {
    epoch: epoch & 0xffff,
    hops: specs,
    content: new TextEncoder().encode('hello'),
  });
}

/** A UDP socket bound to a node's announced address, collecting what arrives. */
export class UdpSink {
  readonly received: { packet: Buffer; at: number }[] = [];
  private readonly arrivals = new Arrivals();
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      this.received.push({ packet: msg, at: performance.now() });
      this.arrivals.notify();
    });
  }

  static async bind(port: number): Promise<UdpSink> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '127.0.0.1', () => resolve());
    });
    return new UdpSink(s);
  }

  /** Resolves once `n` datagrams have arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    return this.arrivals.until(
      () => this.received.length,
      n,
      timeoutMs,
      () => `sink: expected ${n} datagrams, got ${this.received.length}`,
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A neighbour node on the wire, speaking the link protocol as node `name` (test/helpers/link-peer.ts). */
export const LinkPeer = {
  bind(
    net: TestNetwork,
    name: string,
    x25519: (sk: Uint8Array, pk: Uint8Array) => Uint8Array,
  ): Promise<GenericLinkPeer> {
    const node = net.nodes[name]!;
    return GenericLinkPeer.bind({
      topology: net.index,
      self: node.entry,
      keys: new Map([[net.topology.epoch, node.privateKey]]),
      x25519,
      names: Object.fromEntries(Object.entries(net.nodes).map(([k, v]) => [k, v.entry])),
    });
  },
};
export type LinkPeer = GenericLinkPeer;

/** Sends datagrams from a fresh socket (an address that is no node) to 127.0.0.1:port. */
export async function sendUdp(port: number, packets: readonly Uint8Array[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (const p of packets) {
    await new Promise<void>((resolve, reject) =>
      s.send(p, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
  }
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
