/**
 * Signing, verifying and loading the topology document in Node. Signatures are Ed25519 (node:crypto, i.e. the
 * OpenSSL inside Node) over the canonical JSON encoding (./canonical.ts). The browser client verifies with
 * ./portable-verify.ts (@noble) instead; test/browser-topology.test.ts checks that both agree.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { verifyDirectoryDocument, type DirectoryTrust } from '../directory/document.js';
import { TopologyError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import { canonicalJson } from './canonical.js';
import { deepFreeze, fail, hexField, validateBody } from './validate.js';
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
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(ED25519_PKCS8_PREFIX.length).toString('hex'),
  };
}

function publicKeyObject(hex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

export function signTopology(body: TopologyBody, authority: AuthorityKey): SignedTopology {
  validateBody(body);
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(authority.privateKey, 'hex')]), format: 'der', type: 'pkcs8' });
  const value = sign(null, Buffer.from(canonicalJson(body)), key).toString('hex');
  return { ...body, signature: { algorithm: 'ed25519', publicKey: authority.publicKey, value } };
}

/**
 * Verifies `doc` against the trusted authority key and returns it frozen; throws a TopologyError naming what
 * is wrong (bad signature, a different authority, a malformed field).
 */
export function verifyTopology(doc: SignedTopology, trustedAuthorityKey: string): SignedTopology;
export function verifyTopology(doc: AnyTopology, trust: TopologyTrust): AnyTopology;
export function verifyTopology(doc: AnyTopology, trust: TopologyTrust): AnyTopology {
  if (typeof trust !== 'string') return deepFreeze(verifyDirectoryDocument(doc, trust));
  return verifySingle(doc as SignedTopology, trust);
}

function verifySingle(doc: SignedTopology, trustedAuthorityKey: string): SignedTopology {
  if (!doc || typeof doc !== 'object' || !doc.signature) fail('signature', 'missing');
  const { signature, ...body } = doc;
  if (signature.algorithm !== 'ed25519') fail('signature.algorithm', `must be "ed25519", got ${JSON.stringify(signature.algorithm)}`);
  hexField('signature.publicKey', signature.publicKey, 32);
  if (signature.publicKey !== trustedAuthorityKey.toLowerCase()) {
    fail('signature.publicKey', `is ${signature.publicKey}, not the trusted authority ${trustedAuthorityKey}`);
  }
  hexField('signature.value', signature.value, 64);
  const ok = verify(null, Buffer.from(canonicalJson(body)), publicKeyObject(signature.publicKey), Buffer.from(signature.value, 'hex'));
  if (!ok) fail('signature', 'does not verify: the document was altered or signed by another key');
  validateBody(body);
  return deepFreeze(doc);
}

/** Reads, parses and verifies a topology file. */
export function loadTopologyFile(file: string, trustedAuthorityKey: string): SignedTopology;
export function loadTopologyFile(file: string, trust: TopologyTrust): AnyTopology;
export function loadTopologyFile(file: string, trust: TopologyTrust): AnyTopology {
  const doc = readJsonFile(file, { label: 'topology file', area: 'TOPOLOGY', error: TopologyError }) as AnyTopology;
  return verifyTopology(doc, trust);
}
