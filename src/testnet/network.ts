/**
 * Generates a complete local network on loopback: an Ed25519 directory-authority key, one X25519 key file per
 * node, free UDP and WebSocket ports on 127.0.0.1, the signed topology, and one validated config file per
 * node. Everything is real key material; nothing is shared between networks.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freshKeyPairHex } from '../node/fresh-key.js';
import { checkPerNodeNames, nodeConfigTail, writeNodeConfig } from './node-config.js';
import { NetworkParamsSchema, type NetworkParams } from '../config/schema.js';
import { effectiveMaxDelayUs } from '../max-delay.js';
import { makeGeometry, type GeometryParams } from '../geometry.js';
import type { SphinxBackend } from '../sphinx/types.js';
import { generateAuthorityKey, signTopology, TopologyIndex, type AuthorityKey } from '../topology/document.js';
import type { NodeEntry, Role, SignedTopology, TopologyBody } from '../topology/types.js';

export interface TestnetShape {
  /** Mix layers (paper §5: 3). */
  readonly layers: number;
  /** Mixes per layer (paper §5: 2). */
  readonly perLayer: number;
  readonly providers: number;
  readonly epoch: number;
  /**
   * Seconds per key epoch; absent: keys never rotate. With it every node gets a key store with
   * `epochKeys` consecutive epoch keys and the topology is re-signed at every boundary (src/testnet/epochs.ts).
   */
  readonly epochLengthS?: number;
  /** Epoch keys per node when keys rotate (enough for the whole run; default 4). */
  readonly epochKeys?: number;
  readonly geometry?: Partial<GeometryParams>;
}

export interface TestnetNode {
  readonly name: string;
  readonly role: Role;
  readonly entry: NodeEntry;
  readonly keyFile: string;
  readonly configFile: string;
  /** host:port of the node's /metrics and /healthz (node config `ops`), when the testnet gave it one. */
  readonly metrics?: string;
}

export interface TestnetFiles {
  readonly dir: string;
  readonly authority: AuthorityKey;
  readonly topology: SignedTopology;
  readonly topologyFile: string;
  readonly index: TopologyIndex;
  readonly nodes: readonly TestnetNode[];
  /** With rotating keys: every node's public key (hex) per epoch, for re-signing the topology each epoch. */
  readonly epochPublicKeys?: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

/**
 * Ports this process handed out already. The kernel may give a just-released port to the next bind(0), so two
 * nodes of one testnet could be given the same port and one of them fail to start with EADDRINUSE.
 */
const handedOut = new Set<number>();

/** A port from `probe` (bind to port 0, read it, release it) that this process has not handed out before. */
export async function unusedPort(probe: () => Promise<number>): Promise<number> {
  for (;;) {
    const port = await probe();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** A UDP port on 127.0.0.1 that was free a moment ago (and not handed out by this process before). */
export function freeUdpPort(): Promise<number> {
  return unusedPort(async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (and not handed out by this process before). */
export function freeTcpPort(): Promise<number> {
  return unusedPort(async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  });
}

export function writeKeyFile(file: string, b: SphinxBackend): { publicKey: string; privateKey: Uint8Array } {
  const privateKey = Uint8Array.from(randomBytes(32));
  const publicKey = Buffer.from(b.x25519Base(privateKey)).toString('hex');
  writeFileSync(
    file,
    `${JSON.stringify({ type: 'x25519', publicKey, privateKey: Buffer.from(privateKey).toString('hex') }, null, 2)}\n`,
    { mode: 0o600 },
  );
  return { publicKey, privateKey };
}

/**
 * A key store for epochs `first .. first + count − 1` (the "x25519-epochs" form of src/node/keys.ts); returns
 * the public keys by epoch.
 */
export function writeEpochKeyFile(file: string, b: SphinxBackend, first: number, count: number): Map<number, string> {
  const keys = Array.from({ length: count }, (_, i) => ({
    epoch: first + i,
    ...freshKeyPairHex((sk) => b.x25519Base(sk)),
  }));
  writeFileSync(file, `${JSON.stringify({ type: 'x25519-epochs', keys }, null, 2)}\n`, { mode: 0o600 });
  return new Map(keys.map((k) => [k.epoch, k.publicKey]));
}

/** The signed document for `epoch`: its keys and the next epoch's, and the schedule. */
export function epochTopology(
  base: Omit<TopologyBody, 'epoch' | 'issuedAt' | 'nodes' | 'epochStartMs'> & {
    readonly nodes: readonly NodeEntry[];
    readonly firstEpoch: number;
    readonly firstEpochStartMs: number;
  },
  epoch: number,
  publicKeys: ReadonlyMap<string, ReadonlyMap<number, string>>,
  authority: AuthorityKey,
): SignedTopology {
  const { firstEpoch, firstEpochStartMs, nodes, ...rest } = base;
  const lengthMs = (rest.epochLengthS ?? 0) * 1000;
  return signTopology(
    {
      ...rest,
      epoch,
      epochStartMs: firstEpochStartMs + (epoch - firstEpoch) * lengthMs,
      issuedAt: new Date().toISOString(),
      nodes: nodes.map((n) => {
        const keys = publicKeys.get(n.id)!;
        const { nextPublicKey: _drop, ...entry } = n;
        const next = keys.get(epoch + 1);
        return { ...entry, publicKey: keys.get(epoch)!, ...(next ? { nextPublicKey: next } : {}) };
      }),
    },
    authority,
  );
}

export interface CreateTestnetOptions {
  readonly dir: string;
  readonly shape: TestnetShape;
  readonly backend: SphinxBackend;
  readonly params: Partial<NetworkParams>;
  /** Extra top-level config fields for every node (e.g. pipeline, log). */
  readonly nodeConfig?: Record<string, unknown>;
  /** UDP addresses for single nodes by name, instead of a free port on 127.0.0.1 (benchmarks across hosts). */
  readonly udp?: Readonly<Record<string, { readonly host: string; readonly port: number }>>;
  /** Extra top-level config fields for single nodes by name (e.g. `{ 'mix-2.0': { faults: … } }`). */
  readonly perNodeConfig?: Readonly<Record<string, Record<string, unknown>>>;
  /** Give every node an ops endpoint (/metrics, /healthz) on its host (below) and a free port. */
  readonly metrics?: boolean;
  /**
   * Each node's own address by name (`loopix testnet --netns`): its topology udp/ws host and the address it
   * binds. Default: every node on 127.0.0.1.
   */
  readonly hosts?: ReadonlyMap<string, string>;
  /** Post office mode: provider-0 also serves as the post office (topology `postOffice: true`, config provider.postOffice). */
  readonly postOffice?: boolean;
}

/** The testnet's nodes: providers `provider-<i>` (layer 0), then mixes `mix-<layer>.<i>`. */
export function testnetNodeSpecs(
  shape: Pick<TestnetShape, 'providers' | 'layers' | 'perLayer'>,
): { name: string; role: Role; layer: number }[] {
  const specs: { name: string; role: Role; layer: number }[] = [];
  for (let i = 0; i < shape.providers; i++) specs.push({ name: `provider-${i}`, role: 'provider', layer: 0 });
  for (let l = 1; l <= shape.layers; l++)
    for (let i = 0; i < shape.perLayer; i++) specs.push({ name: `mix-${l}.${i}`, role: 'mix', layer: l });
  return specs;
}

export async function createTestnetFiles(o: CreateTestnetOptions): Promise<TestnetFiles> {
  const { dir, shape, backend } = o;
  mkdirSync(dir, { recursive: true });
  const g = makeGeometry(shape.geometry);
  const authority = generateAuthorityKey();
  writeFileSync(join(dir, 'authority.json'), `${JSON.stringify(authority, null, 2)}\n`, { mode: 0o600 });
  const specs = testnetNodeSpecs(shape);

  const rotating = shape.epochLengthS !== undefined;
  const epochKeys = shape.epochKeys ?? 4;
  const epochPublicKeys = new Map<string, Map<number, string>>();
  const prepared: { spec: (typeof specs)[number]; entry: NodeEntry; keyFile: string }[] = [];
  for (const spec of specs) {
    const keyFile = join(dir, `${spec.name}.key.json`);
    let publicKey: string;
    let byEpoch: Map<number, string> | undefined;
    if (rotating) {
      byEpoch = writeEpochKeyFile(keyFile, backend, shape.epoch, epochKeys);
      publicKey = byEpoch.get(shape.epoch)!;
    } else publicKey = writeKeyFile(keyFile, backend).publicKey;
    const entry: NodeEntry = {
      id: randomBytes(g.addressBytes).toString('hex'),
      name: spec.name,
      role: spec.role,
      layer: spec.layer,
      udp: o.udp?.[spec.name] ?? { host: o.hosts?.get(spec.name) ?? '127.0.0.1', port: await freeUdpPort() },
      ...(spec.role === 'provider'
        ? { ws: `ws://${o.hosts?.get(spec.name) ?? '127.0.0.1'}:${await freeTcpPort()}` }
        : {}),
      ...(o.postOffice && spec.name === 'provider-0' ? { postOffice: true as const } : {}),
      publicKey,
    };
    if (byEpoch) epochPublicKeys.set(entry.id, byEpoch);
    prepared.push({ spec, entry, keyFile });
  }
  const geometry = { maxHops: g.maxHops, addressBytes: g.addressBytes, contentBytes: g.contentBytes };
  // The per-hop delay bound every party enforces (src/max-delay.ts), published in the signed document.
  const mu = o.params.mu ?? NetworkParamsSchema.parse({}).mu;
  const maxDelayUs = effectiveMaxDelayUs(undefined, mu, o.params.maxDelayMs);
  const topology = rotating
    ? epochTopology(
        {
          version: 1,
          geometry,
          layers: shape.layers,
          maxDelayUs,
          epochLengthS: shape.epochLengthS,
          nodes: prepared.map((p) => p.entry),
          firstEpoch: shape.epoch,
          firstEpochStartMs: Date.now(),
        },
        shape.epoch,
        epochPublicKeys,
        authority,
      )
    : signTopology(
        {
          version: 1,
          epoch: shape.epoch,
          issuedAt: new Date().toISOString(),
          geometry,
          layers: shape.layers,
          maxDelayUs,
          nodes: prepared.map((p) => p.entry),
        },
        authority,
      );
  const topologyFile = join(dir, 'topology.json');
  writeFileSync(topologyFile, `${JSON.stringify(topology, null, 2)}\n`);

  checkPerNodeNames(specs, o.perNodeConfig);
  const metricsPorts = new Map<string, number>();
  if (o.metrics) for (const p of prepared) metricsPorts.set(p.spec.name, await freeTcpPort());
  const nodes = prepared.map(({ spec, entry, keyFile }) => {
    const metricsPort = metricsPorts.get(spec.name);
    const host = entry.udp.host;
    const config = {
      id: entry.id,
      keyFile,
      topologyFile,
      authorityPublicKey: authority.publicKey,
      params: o.params,
      ...nodeConfigTail({
        dir,
        name: spec.name,
        role: spec.role,
        host,
        ws: entry.ws,
        postOffice: entry.postOffice === true,
        metricsPort,
        nodeConfig: o.nodeConfig,
        perNodeConfig: o.perNodeConfig,
      }),
    };
    return writeNodeConfig(dir, { name: spec.name, role: spec.role, entry, keyFile }, config, {
      host,
      port: metricsPort,
    });
  });
  return {
    dir,
    authority,
    topology,
    topologyFile,
    index: new TopologyIndex(topology),
    nodes,
    ...(rotating ? { epochPublicKeys } : {}),
  };
}
