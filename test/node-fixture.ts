/**
 * A small signed test network for the node tests, made by the testnet's own generator
 * (src/testnet/network.ts `createTestnetFiles`): real X25519 keys, an Ed25519-signed topology, free ports on
 * 127.0.0.1, config and key files in a temporary directory — plus neighbours on the wire (link peers) for
 * the node under test. Nodes have the testnet's names: `provider-<i>` and `mix-<layer>.<i>`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Geometry } from '../src/geometry.js';
import { Command, type HopSpec, type SphinxBackend } from '../src/sphinx/types.js';
import { TopologyIndex, type AuthorityKey } from '../src/topology/document.js';
import type { NodeEntry, SignedTopology } from '../src/topology/types.js';
import type { NodeSetup } from '../src/node/pipeline.js';
import { loadKeyPairFile } from '../src/node/keys.js';
import { NodeConfigSchema, parseConfig } from '../src/config/schema.js';
import { createTestnetFiles, type TestnetShape } from '../src/testnet/network.js';
import { LinkPeer as GenericLinkPeer } from './helpers/link-peer.js';

export interface TestNode {
  readonly entry: NodeEntry;
  readonly privateKey: Uint8Array;
  readonly keyFile: string;
  /** The config file the testnet wrote for the node (left as written; `writeConfig` writes beside it). */
  readonly configFile: string;
}

export interface TestNetwork {
  readonly dir: string;
  readonly g: Geometry;
  readonly authority: AuthorityKey;
  readonly topology: SignedTopology;
  readonly topologyFile: string;
  readonly index: TopologyIndex;
  /** By testnet name: provider-0, provider-1, … and mix-<layer>.<i>. */
  readonly nodes: Record<string, TestNode>;
  /** Writes the node's testnet config with `extra` over its top-level fields (unchecked). Returns its path. */
  writeConfig(name: string, extra?: Record<string, unknown>): string;
  /** A NodeSetup for in-process tests: the node's testnet config with `extra`, parsed through the real schema. */
  setup(name: string, extra?: Record<string, unknown>): NodeSetup;
  cleanup(): void;
}

export async function makeNetwork(
  backend: SphinxBackend,
  o: Partial<Pick<TestnetShape, 'layers' | 'perLayer' | 'providers' | 'epoch'>> = {},
): Promise<TestNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'loopix-node-'));
  const files = await createTestnetFiles({
    dir,
    shape: { layers: 3, perLayer: 1, providers: 1, epoch: 7, ...o },
    backend,
    // Nodes send almost no cover of their own; one crypto worker; quiet unless a test asks.
    params: { lambdaM: 0.001 },
    nodeConfig: { pipeline: { workers: 1, socketBufferBytes: 1 << 20 }, statsIntervalS: 0, log: { level: 'silent' } },
  });
  const nodes: Record<string, TestNode> = {};
  for (const n of files.nodes) {
    const { privateKey } = loadKeyPairFile(n.keyFile);
    nodes[n.name] = { entry: n.entry, privateKey, keyFile: n.keyFile, configFile: n.configFile };
  }
  const configObject = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const n = nodes[name];
    if (!n) throw new Error(`no node named ${name} in this network (${Object.keys(nodes).join(', ')})`);
    return { ...(JSON.parse(readFileSync(n.configFile, 'utf8')) as Record<string, unknown>), ...extra };
  };
  let written = 0;
  return {
    dir,
    g: files.index.geometry,
    authority: files.authority,
    topology: files.topology,
    topologyFile: files.topologyFile,
    index: files.index,
    nodes,
    writeConfig(name, extra) {
      const file = join(dir, `${name}.test-${++written}.config.json`);
      writeFileSync(file, JSON.stringify(configObject(name, extra), null, 2));
      return file;
    },
    setup(name, extra) {
      const config = parseConfig(NodeConfigSchema, configObject(name, extra), name);
      const index = new TopologyIndex(files.topology);
      return { config, topology: index, self: index.node(config.id)!, keyPair: loadKeyPairFile(config.keyFile) };
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

/** A neighbour on the wire speaking the link protocol as node `name`, with its key file (test/helpers/link-peer.ts). */
export const LinkPeer = {
  bind(
    net: TestNetwork,
    name: string,
    x25519: (sk: Uint8Array, pk: Uint8Array) => Uint8Array,
  ): Promise<GenericLinkPeer> {
    const node = net.nodes[name]!;
    return GenericLinkPeer.fromKeyFile(net.index, node.entry, node.keyFile, x25519);
  },
};
export type LinkPeer = GenericLinkPeer;
