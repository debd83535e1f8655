/**
 * Shared fixtures for the directory tests: registered nodes with real Ed25519 identity keys and real X25519
 * epoch keys, signed descriptors, an in-process Authority with an explicit clock, and authority configs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { Authority } from '../src/directory/authority.js';
import { AuthorityConfigSchema, DEFAULT_ISOLATION, type AuthorityConfig } from '../src/directory/config.js';
import { signDescriptor } from '../src/directory/descriptor.js';
import { generateIdentityKey, nodeIdFor, type IdentityKey } from '../src/directory/identity.js';
import type { IsolationParams, SignedDescriptor } from '../src/directory/schemas.js';
import { DEFAULT_GEOMETRY_PARAMS } from '../src/geometry.js';
import { createLogger } from '../src/log.js';
import type { DirectoryDocument } from '../src/topology/types.js';

export const GEOMETRY = {
  maxHops: DEFAULT_GEOMETRY_PARAMS.maxHops,
  addressBytes: DEFAULT_GEOMETRY_PARAMS.addressBytes,
  contentBytes: DEFAULT_GEOMETRY_PARAMS.contentBytes,
};

export interface FixtureNode {
  readonly name: string;
  readonly role: 'mix' | 'provider';
  readonly layer: number;
  readonly identity: IdentityKey;
  readonly id: string;
  /** X25519 public keys (hex) by epoch. */
  readonly keys: Map<number, string>;
}

/** `providers` providers and `perLayer` mixes in each of `layers` layers, with keys for epochs first..first+count−1. */
export function fixtureNodes(o: {
  providers: number;
  layers: number;
  perLayer: number;
  firstEpoch: number;
  epochs: number;
}): FixtureNode[] {
  const specs: { name: string; role: 'mix' | 'provider'; layer: number }[] = [];
  for (let i = 0; i < o.providers; i++) specs.push({ name: `provider-${i}`, role: 'provider', layer: 0 });
  for (let l = 1; l <= o.layers; l++)
    for (let i = 0; i < o.perLayer; i++) specs.push({ name: `mix-${l}.${i}`, role: 'mix', layer: l });
  return specs.map((s) => {
    const identity = generateIdentityKey();
    const keys = new Map<number, string>();
    for (let e = o.firstEpoch; e < o.firstEpoch + o.epochs; e++)
      keys.set(e, Buffer.from(x25519.getPublicKey(x25519.utils.randomSecretKey())).toString('hex'));
    return { ...s, identity, id: nodeIdFor(identity.publicKey, GEOMETRY.addressBytes), keys };
  });
}

/** `n`'s signed descriptor with its keys from epoch `fromEpoch` on (at most 16, the descriptor's limit). */
export function descriptorOf(
  n: FixtureNode,
  issuedAtMs = 1_700_000_000_000,
  port = 9000,
  fromEpoch = -Infinity,
): SignedDescriptor {
  return signDescriptor(
    {
      version: 1,
      identityKey: n.identity.publicKey,
      id: n.id,
      name: n.name,
      role: n.role,
      layer: n.layer,
      udp: { host: '127.0.0.1', port },
      ...(n.role === 'provider' ? { ws: 'ws://127.0.0.1:9100' } : {}),
      keys: [...n.keys]
        .filter(([epoch]) => epoch >= fromEpoch)
        .slice(0, 16)
        .map(([epoch, publicKey]) => ({ epoch, publicKey })),
      issuedAtMs,
    },
    n.identity,
  );
}

export interface AuthorityFixture {
  readonly keys: IdentityKey[];
  readonly configs: AuthorityConfig[];
}

/** Configs for n authorities of one network (URLs are placeholders unless `ports` are given). */
export function authorityConfigs(o: {
  n: number;
  threshold?: number;
  nodes: FixtureNode[];
  genesisMs: number;
  epochLengthS: number;
  firstEpoch: number;
  isolation?: Partial<IsolationParams>;
  ports?: number[];
  layers: number;
}): AuthorityFixture {
  const keys = Array.from({ length: o.n }, () => generateIdentityKey());
  const authorities = keys.map((k, i) => ({ publicKey: k.publicKey, url: `http://127.0.0.1:${o.ports?.[i] ?? 1}` }));
  const configs = keys.map((k, i) =>
    AuthorityConfigSchema.parse({
      identityKeyFile: 'unused',
      listen: { host: '127.0.0.1', port: o.ports?.[i] ?? 0 },
      dataDir: mkdtempSync(join(tmpdir(), 'loopix-authority-')),
      authorities,
      ...(o.threshold ? { threshold: o.threshold } : {}),
      network: {
        geometry: GEOMETRY,
        layers: o.layers,
        epochLengthS: o.epochLengthS,
        genesisEpoch: o.firstEpoch,
        genesisMs: o.genesisMs,
        isolation: { ...DEFAULT_ISOLATION, ...o.isolation },
      },
      nodes: o.nodes.map((n) => ({ name: n.name, identityKey: n.identity.publicKey })),
      syncIntervalMs: 100,
      log: { level: 'silent' },
    }),
  );
  return { keys, configs };
}

export function inProcessAuthority(config: AuthorityConfig, key: IdentityKey, clock: () => number): Authority {
  return new Authority(config, key, createLogger('authority-test', 'silent'), clock);
}

/** Genesis of the in-process networks below (ms) and their epoch length (s); their first epoch is 5. */
export const NETWORK_GENESIS_MS = 1_800_000_000_000;
export const NETWORK_EPOCH_S = 10;
const NETWORK_FIRST_EPOCH = 5;

/**
 * Three in-process authorities of one network of 2 providers and 2 layers of `perLayer` mixes (keys for
 * `epochs` epochs from 5), on a clock the test sets; it starts 1 s into epoch 5.
 */
export function inProcessNetwork(o: { perLayer: number; epochs: number; isolation?: Partial<IsolationParams> }) {
  const nodes = fixtureNodes({
    providers: 2,
    layers: 2,
    perLayer: o.perLayer,
    firstEpoch: NETWORK_FIRST_EPOCH,
    epochs: o.epochs,
  });
  let now = NETWORK_GENESIS_MS + 1000;
  const { keys, configs } = authorityConfigs({
    n: 3,
    nodes,
    genesisMs: NETWORK_GENESIS_MS,
    epochLengthS: NETWORK_EPOCH_S,
    firstEpoch: NETWORK_FIRST_EPOCH,
    layers: 2,
    isolation: o.isolation,
  });
  const authorities = configs.map((c, i) => inProcessAuthority(c, keys[i]!, () => now));
  return { nodes, authorities, keys, trust: authorities[0]!.trust, setNow: (t: number) => (now = t), now: () => now };
}

/** Votes at every authority 1 ms before `epoch` begins, exchanges signatures, returns authority 0's document. */
export function publishEpoch(net: ReturnType<typeof inProcessNetwork>, epoch: number): DirectoryDocument {
  net.setNow(NETWORK_GENESIS_MS + (epoch - NETWORK_FIRST_EPOCH) * NETWORK_EPOCH_S * 1000 - 1);
  for (const a of net.authorities) a.tick();
  for (const a of net.authorities) for (const b of net.authorities) if (a !== b) a.mergePeer(b.syncPayload());
  return net.authorities[0]!.document(epoch)!;
}
