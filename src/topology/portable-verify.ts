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
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { DirectorySectionSchema } from '../directory/schemas.js';
import { LoopixError } from '../errors.js';
import { makeGeometry } from '../geometry.js';
import { canonicalJson } from './canonical.js';
import type { AnyTopology, DirectoryDocument, SignedTopology } from './types.js';
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
const DOCUMENT_PREFIX = 'loopix/directory/v1/document\n';
const NODE_ID_LABEL = 'loopix/node-id/v1';

function ed25519Valid(signatureHex: string, message: Uint8Array, publicKeyHex: string): boolean {
  if (!HEX128.test(signatureHex) || !HEX64.test(publicKeyHex)) return false;
  try {
    return ed25519.verify(hexToBytes(signatureHex), message, hexToBytes(publicKeyHex), { zip215: false });
  } catch {
    return false;
  }
}

function directoryFail(code: `ERR_LOOPIX_DIRECTORY_${string}`, field: string, message: string): never {
  throw new LoopixError(code, `directory document ${field}: ${message}`, { field });
}

/** The node id of an identity key: the first addressBytes bytes of SHA-256("loopix/node-id/v1" ‖ key). */
function nodeIdOf(identityKey: string, addressBytes: number): string {
  const label = new TextEncoder().encode(NODE_ID_LABEL);
  const input = new Uint8Array(label.length + 32);
  input.set(label);
  input.set(hexToBytes(identityKey), label.length);
  return bytesToHex(sha256(input).subarray(0, addressBytes));
}

function verifySingle(doc: SignedTopology, trustedAuthorityKey: string): SignedTopology {
  if (!doc || typeof doc !== 'object' || !doc.signature) fail('signature', 'missing');
  const { signature, ...body } = doc;
  if (signature.algorithm !== 'ed25519') fail('signature.algorithm', `must be "ed25519", got ${JSON.stringify(signature.algorithm)}`);
  hexField('signature.publicKey', signature.publicKey, 32);
  if (signature.publicKey !== trustedAuthorityKey.toLowerCase()) fail('signature.publicKey', `is ${signature.publicKey}, not the trusted authority ${trustedAuthorityKey}`);
  hexField('signature.value', signature.value, 64);
  if (!ed25519Valid(signature.value, new TextEncoder().encode(canonicalJson(body)), signature.publicKey)) {
    fail('signature', 'does not verify: the document was altered or signed by another key');
  }
  validateBody(body);
  return deepFreeze(doc);
}

function verifyDirectory(doc: AnyTopology, trust: PortableDirectoryTrust): DirectoryDocument {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) directoryFail('ERR_LOOPIX_DIRECTORY_MALFORMED', '(root)', 'must be an object');
  const { signatures, ...body } = doc as DirectoryDocument;
  if (!Array.isArray(signatures)) directoryFail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'signatures', 'must be an array of {publicKey, value}');
  if ('signature' in body) directoryFail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'signature', 'a directory document carries `signatures`, not a single `signature`');
  const section = DirectorySectionSchema.safeParse(body.directory);
  if (!section.success) {
    const issue = section.error.issues[0]!;
    directoryFail('ERR_LOOPIX_DIRECTORY_MALFORMED', `directory.${issue.path.join('.')}`, issue.message);
  }
  const message = new TextEncoder().encode(DOCUMENT_PREFIX + canonicalJson(body));
  const trusted = new Set(trust.authorities);
  const valid = new Set<string>();
  const bad: string[] = [];
  for (const [i, raw] of (signatures as unknown[]).entries()) {
    const s = raw as { publicKey?: unknown; value?: unknown } | null;
    if (s === null || typeof s !== 'object' || typeof s.publicKey !== 'string' || typeof s.value !== 'string') {
      return directoryFail('ERR_LOOPIX_DIRECTORY_MALFORMED', `signatures[${i}]`, 'must be {publicKey, value} (hex)');
    }
    if (!trusted.has(s.publicKey)) continue; // an unknown authority's signature neither counts nor harms
    if (ed25519Valid(s.value, message, s.publicKey)) valid.add(s.publicKey);
    else bad.push(s.publicKey);
  }
  if (valid.size < trust.threshold) {
    if (bad.length > 0) {
      directoryFail('ERR_LOOPIX_DIRECTORY_BAD_SIGNATURE', 'signatures', `${bad.length} signature(s) (authorities ${bad.join(', ')}) do not verify over this document's bytes; ${valid.size} valid of ${trust.threshold} needed`);
    }
    directoryFail('ERR_LOOPIX_DIRECTORY_QUORUM', 'signatures', `${valid.size} valid signature(s) of trusted authorities, ${trust.threshold} of ${trust.authorities.length} needed`);
  }
  try {
    validateBody(body);
  } catch (err) {
    directoryFail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'body', (err as Error).message);
  }
  const addressBytes = makeGeometry(body.geometry).addressBytes;
  for (const [i, n] of body.nodes.entries()) {
    if (n.identityKey === undefined || !HEX64.test(n.identityKey) || nodeIdOf(n.identityKey, addressBytes) !== n.id) {
      directoryFail('ERR_LOOPIX_DIRECTORY_NODE_ID', `nodes[${i}].id`, `${n.id} is not the id of identity key ${n.identityKey ?? '(none)'}`);
    }
  }
  return deepFreeze(doc as DirectoryDocument);
}

/**
 * Verifies `doc` against `trust` and returns it frozen; throws a TopologyError (ERR_LOOPIX_TOPOLOGY_*) or a
 * LoopixError (ERR_LOOPIX_DIRECTORY_*) naming what is wrong, as the Node verifier does.
 */
export function verifyTopologyPortable(doc: SignedTopology, trust: string): SignedTopology;
export function verifyTopologyPortable(doc: AnyTopology, trust: PortableTopologyTrust): AnyTopology;
export function verifyTopologyPortable(doc: AnyTopology, trust: PortableTopologyTrust): AnyTopology {
  if (typeof trust !== 'string') return verifyDirectory(doc, trust);
  return verifySingle(doc as SignedTopology, trust);
}
