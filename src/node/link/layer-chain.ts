/**
 * A chain of link layers over an in-memory topology, for the benchmarks, the fuzz target and the tests that
 * drive the link layer without sockets: one provider (layer 0) and one mix in each layer after it, each with
 * fresh X25519 keys for one epoch, announced at 127.0.0.1 on consecutive ports. `layer(i)` is the LinkLayer
 * of node i, as a node builds it (src/node/link/link.ts), with the native AEAD unless a cipher is given.
 *
 * The document is not signed: the link layer reads its entries only (the signature is checked where a
 * document is adopted, src/topology/).
 */
import type { Geometry } from '../../geometry.js';
import type { X25519 } from './keys.js';
import { nativeLinkCipher, type LinkCipher } from './cipher.js';
import { LinkLayer, type LinkLayerOptions } from './link.js';
import { TopologyIndex } from '../../topology/document.js';
import type { NodeEntry } from '../../topology/types.js';

export interface LinkLayerChainOptions {
  readonly geometry: Geometry;
  /** The only epoch the nodes hold keys for, and the one they seal with. */
  readonly epoch: number;
  /** Node i listens on basePort + i. */
  readonly basePort: number;
  /** Mixes after the provider (layers 1 … mixes). */
  readonly mixes: number;
  /** The Sphinx backend's X25519 (public key from private key, and the shared secret). */
  readonly x25519Base: (sk: Uint8Array) => Uint8Array;
  readonly x25519: X25519;
}

export interface LinkLayerChain {
  readonly topology: TopologyIndex;
  /** nodes[0] is the provider "P", nodes[i] the mix "M<i>" of layer i. */
  readonly nodes: readonly NodeEntry[];
  /** Node i's private key for the chain's epoch. */
  readonly keys: readonly Uint8Array[];
  /** Node i's link layer; `ownKey` replaces the lookup of its private key (to take the key away, say). */
  readonly layer: (i: number, o?: { cipher?: LinkCipher; ownKey?: LinkLayerOptions['ownKey'] }) => LinkLayer;
}

export function linkLayerChain(o: LinkLayerChainOptions): LinkLayerChain {
  const g = o.geometry;
  const keys = Array.from({ length: o.mixes + 1 }, () => crypto.getRandomValues(new Uint8Array(g.privateKeyBytes)));
  const nodes: NodeEntry[] = keys.map((sk, i) => ({
    id: (i + 1).toString(16).padStart(2, '0').repeat(g.addressBytes),
    name: i === 0 ? 'P' : `M${i}`,
    role: i === 0 ? 'provider' : 'mix',
    layer: i,
    udp: { host: '127.0.0.1', port: o.basePort + i },
    publicKey: Buffer.from(o.x25519Base(sk)).toString('hex'),
  }));
  const topology = new TopologyIndex({
    version: 1,
    epoch: o.epoch,
    issuedAt: '',
    geometry: { maxHops: g.maxHops, addressBytes: g.addressBytes, contentBytes: g.contentBytes },
    layers: o.mixes,
    nodes,
    signature: { algorithm: 'ed25519', publicKey: '', value: '' },
  });
  const layer: LinkLayerChain['layer'] = (i, l = {}) =>
    new LinkLayer({
      geometry: g,
      topology,
      selfId: nodes[i]!.id,
      ownKey: l.ownKey ?? ((e) => (e === o.epoch ? keys[i] : undefined)),
      currentEpoch: () => o.epoch,
      x25519: o.x25519,
      cipher: l.cipher ?? nativeLinkCipher(),
    });
  return { topology, nodes, keys, layer };
}
