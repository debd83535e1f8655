/**
 * Topology verification without a Node built-in, for the browser client (`loopix/client`, `loopix/browser`):
 * Ed25519 from @noble/curves with strict RFC 8032 verification (non-ZIP-215: a non-canonical point or scalar
 * is refused), SHA-256 from @noble/hashes. It accepts and refuses exactly what the Node verifier
 * (./document.ts `verifyTopology`: OpenSSL for a single authority, src/directory/document.ts for k of n)
 * accepts and refuses, with the same error codes; test/browser-topology.test.ts holds both to that.
 *
 * Why a second verifier: the Node one reaches node:crypto and the directory's key-file reader (node:fs), which
 * a browser bundle cannot contain.
 *
 * - a static signed file: one `signature` by the trusted authority over canonicalJson(body);
 * - a directory document (docs/operations.md "Directory authorities"): `signatures`, valid with at least k
 *   of the n trusted authorities over UTF-8("loopix/directory/v1/document\n" ‖ canonicalJson(body)), and every
 *   node id derived from its identity key.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { verifyDirectoryDocument } from '../directory/verify.js';
import { canonicalJson } from './canonical.js';
import type { AnyTopology, SignedTopology } from './types.js';
import { deepFreeze, fail, hexField, validateBody } from './validate.js';

/** The n authority keys (hex) a directory document must be signed by k of. */
export interface PortableDirectoryTrust {
  readonly authorities: readonly string[];
  readonly threshold: number;
}

/** One authority key (a static signed file), or the directory's k of n. */
export type PortableTopologyTrust = string | PortableDirectoryTrust;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

function ed25519Valid(signatureHex: string, message: Uint8Array, publicKeyHex: string): boolean {
  if (!HEX128.test(signatureHex) || !HEX64.test(publicKeyHex)) return false;
  try {
    return ed25519.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex), { zip215: false });
  } catch {
    return false;
  }
}

function verifySingle(doc: SignedTopology, trustedAuthorityKey: string): SignedTopology {
  if (!doc || typeof doc !== 'object' || !doc.signature) fail('signature', 'missing');
  const { signature, ...body } = doc;
  if (signature.algorithm !== 'ed25519')
    fail('signature.algorithm', `must be "ed25519", got ${JSON.stringify(signature.algorithm)}`);
  hexField('signature.publicKey', signature.publicKey, 32);
  if (signature.publicKey !== trustedAuthorityKey.toLowerCase())
    fail('signature.publicKey', `is ${signature.publicKey}, not the trusted authority ${trustedAuthorityKey}`);
  hexField('signature.value', signature.value, 64);
  if (!ed25519Valid(signature.value, new TextEncoder().encode(canonicalJson(body)), signature.publicKey)) {
    fail('signature', 'does not verify: the document was altered or signed by another key');
  }
  validateBody(body);
  return deepFreeze(doc);
}

/**
 * Verifies `doc` against `trust` and returns it frozen; throws a TopologyError (ERR_LOOPIX_TOPOLOGY_*) or a
 * LoopixError (ERR_LOOPIX_DIRECTORY_*) naming what is wrong, as the Node verifier does.
 */
export function verifyTopologyPortable(doc: SignedTopology, trust: string): SignedTopology;
export function verifyTopologyPortable(doc: AnyTopology, trust: PortableTopologyTrust): AnyTopology;
export function verifyTopologyPortable(doc: AnyTopology, trust: PortableTopologyTrust): AnyTopology {
  if (typeof trust !== 'string') return deepFreeze(verifyDirectoryDocument(doc, trust));
  return verifySingle(doc as SignedTopology, trust);
}
