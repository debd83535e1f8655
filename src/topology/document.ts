/**
 * Signing and loading the topology document in Node. Signatures are Ed25519 over the canonical JSON encoding
 * (./canonical.ts): made with node:crypto (the OpenSSL inside Node), checked by ./portable-verify.ts (@noble,
 * strict RFC 8032), the one verifier Node and browser clients share; test/browser-topology.test.ts checks it
 * against OpenSSL's verdict.
 */
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import type { DirectoryTrust } from '../directory/verify.js';
import { TopologyError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import { canonicalJson } from './canonical.js';
import { verifyTopologyPortable } from './portable-verify.js';
import { validateBody } from './validate.js';
import type { AnyTopology, SignedTopology, TopologyBody } from './types.js';

// The runtime-neutral parts live in their own modules (the browser client imports those, never this one).
export { canonicalJson } from './canonical.js';
export { validateBody } from './validate.js';
export { TopologyIndex } from './topology-index.js';

/**
 * What a verifier trusts: one authority key (a static signed file), or the directory's n authority keys and
 * the threshold k (a document valid with k of n signatures, src/directory/document.ts).
 */
export type TopologyTrust = string | DirectoryTrust;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Default key-epoch length, seconds (20 minutes). Shorter epochs limit what a stolen key decrypts and how
 * long a compromised node's key stays useful; longer ones mean fewer directory documents and a larger replay
 * filter, which must hold line rate × (epoch + grace) tags: at 20 minutes and 10,000 packets/s that is 13 M
 * tags, 47 MB at a 10⁻⁶ false-positive rate (docs/operations.md "Key epochs").
 */
export const DEFAULT_EPOCH_LENGTH_S = 1200;

export { TopologyError };

export interface AuthorityKey {
  readonly publicKey: string;
  readonly privateKey: string;
}

/** A fresh Ed25519 directory-authority key pair (raw 32-byte keys, hex). */
export function generateAuthorityKey(): AuthorityKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length).toString('hex'),
    privateKey: privateKey
      .export({ format: 'der', type: 'pkcs8' })
      .subarray(ED25519_PKCS8_PREFIX.length)
      .toString('hex'),
  };
}

export function signTopology(body: TopologyBody, authority: AuthorityKey): SignedTopology {
  validateBody(body);
  const key = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(authority.privateKey, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
  const value = sign(null, Buffer.from(canonicalJson(body)), key).toString('hex');
  return { ...body, signature: { algorithm: 'ed25519', publicKey: authority.publicKey, value } };
}

/**
 * Verifies `doc` against the trusted authority key (or the directory's k of n) and returns it frozen; throws
 * a TopologyError or a directory LoopixError naming what is wrong (bad signature, a different authority, a
 * malformed field). One implementation for Node and browsers: ./portable-verify.ts.
 */
export function verifyTopology(doc: SignedTopology, trustedAuthorityKey: string): SignedTopology;
export function verifyTopology(doc: AnyTopology, trust: TopologyTrust): AnyTopology;
export function verifyTopology(doc: AnyTopology, trust: TopologyTrust): AnyTopology {
  return verifyTopologyPortable(doc, trust);
}

/** Reads, parses and verifies a topology file. */
export function loadTopologyFile(file: string, trustedAuthorityKey: string): SignedTopology;
export function loadTopologyFile(file: string, trust: TopologyTrust): AnyTopology;
export function loadTopologyFile(file: string, trust: TopologyTrust): AnyTopology {
  const doc = readJsonFile(file, { label: 'topology file', area: 'TOPOLOGY', error: TopologyError }) as AnyTopology;
  return verifyTopology(doc, trust);
}
