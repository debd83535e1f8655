/**
 * The network's topology document (ARCHITECTURE.md "Directory"): every node's id, role, layer, addresses and
 * public keys for an epoch, signed by the directory authority with Ed25519. Nodes and clients refuse a
 * document whose signature does not verify (src/topology/document.ts).
 *
 * Layers follow the stratified design of Loopix §2: providers are layer 0 (the first and the last layer of
 * every path), mixes are layers 1..layers; a node only sends to the adjacent layer.
 */
import type { DirectorySection } from '../directory/schemas.js';
import type { GeometryParams } from '../geometry.js';

export type Role = 'mix' | 'provider';

export interface NodeEntry {
  /** geometry.addressBytes bytes, hex: the address that RELAY commands name. */
  readonly id: string;
  /** Human-readable name (logs and tables only). */
  readonly name: string;
  readonly role: Role;
  /** 0 for providers, 1..layers for mixes. */
  readonly layer: number;
  /** Where the node receives Sphinx packets (UDP, one packet per datagram). */
  readonly udp: { readonly host: string; readonly port: number };
  /** Providers only: the client WebSocket endpoint, e.g. ws://127.0.0.1:9100. */
  readonly ws?: string;
  /** X25519 public key (hex, 32 bytes) for `epoch`. */
  readonly publicKey: string;
  /** X25519 public key (hex) for `epoch + 1`, once known (key rotation). */
  readonly nextPublicKey?: string;
  /** Directory documents: the node's Ed25519 identity key (hex); `id` is derived from it (src/directory/identity.ts). */
  readonly identityKey?: string;
  /** Providers only: this provider also serves as a post office (anonymous mailboxes, AnonPoP §4). */
  readonly postOffice?: true;
}

export interface TopologyBody {
  readonly version: 1;
  /** Key epoch the `publicKey` fields belong to (the packet prefix carries epoch mod 2^16). */
  readonly epoch: number;
  /**
   * Seconds per key epoch (key rotation, docs/operations.md "Key epochs"). Absent: the keys never rotate
   * (one static epoch, as in the paper's evaluation).
   */
  readonly epochLengthS?: number;
  /** Unix time (ms) at which `epoch` began; with epochLengthS it fixes every epoch's start. */
  readonly epochStartMs?: number;
  /** When this document was issued (ISO 8601), for operators. */
  readonly issuedAt: string;
  readonly geometry: GeometryParams;
  /** Number of mix layers (the paper's evaluation uses 3). */
  readonly layers: number;
  /**
   * Largest per-hop delay, µs, that nodes hold a packet for (src/max-delay.ts: the Exp(µ) quantile at
   * 1 − 10⁻⁶). Clients never choose a larger one; nodes drop larger ones as `excessive_delay`. Absent in
   * older documents: each party derives it from µ.
   */
  readonly maxDelayUs?: number;
  readonly nodes: readonly NodeEntry[];
  /**
   * Documents of the directory authorities only (src/directory/document.ts): who signs, how many signatures
   * make it valid, and the links and nodes bad-server isolation removed this epoch (AnonPoP §5.2).
   */
  readonly directory?: DirectorySection;
}

export interface SignedTopology extends TopologyBody {
  readonly signature: {
    readonly algorithm: 'ed25519';
    /** The authority's Ed25519 public key, raw 32 bytes, hex. Must equal the key the verifier trusts. */
    readonly publicKey: string;
    /** Ed25519 signature (hex) over canonicalJson(body without `signature`). */
    readonly value: string;
  };
}

/** The authorities' form: the same body, valid with k of the n authorities' signatures (src/directory/document.ts). */
export interface DirectoryDocument extends TopologyBody {
  readonly directory: DirectorySection;
  readonly signatures: readonly { readonly publicKey: string; readonly value: string }[];
}

/** Either form of a verified topology document. */
export type AnyTopology = SignedTopology | DirectoryDocument;
