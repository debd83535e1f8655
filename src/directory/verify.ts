/**
 * Verification of an epoch document of the directory authorities (./document.ts builds and signs them): valid
 * with at least k signatures of the n trusted authorities over signedBytes('document', body), a well-formed
 * body and `directory` section, and every node id derived from its identity key (docs/packet-format.md
 * "Directory encoding"). No Node built-in: nodes, Node clients and browser clients run this same code.
 */
import { LoopixError } from '../errors.js';
import { makeGeometry } from '../geometry.js';
import type { AnyTopology, DirectoryDocument, TopologyBody } from '../topology/types.js';
import { validateBody } from '../topology/validate.js';
import { HEX64, nodeIdFor, verifyObject } from './identity.js';
import { DirectorySectionSchema } from './schemas.js';

/** What a client or node trusts: the n authority keys and k. */
export interface DirectoryTrust {
  readonly authorities: readonly string[];
  readonly threshold: number;
}

function fail(code: `ERR_LOOPIX_DIRECTORY_${string}`, field: string, message: string): never {
  throw new LoopixError(code, `directory document ${field}: ${message}`, { field });
}

/** Whether `sig` is a valid signature over `body`. */
export function documentSignatureValid(body: TopologyBody, sig: { publicKey: string; value: string }): boolean {
  return verifyObject('document', body, sig.value, sig.publicKey);
}

export interface VerifyOptions {
  /** Refuse documents of an older epoch than this (a replayed old document). */
  readonly minEpoch?: number;
}

/**
 * Verifies a document against the trusted authorities and returns it; throws a LoopixError whose code says
 * why: ERR_LOOPIX_DIRECTORY_MALFORMED (a field, named), _BAD_SIGNATURE (a signature over other bytes, and
 * too few valid ones left), _QUORUM (fewer than k valid signatures of trusted authorities), _OLD_EPOCH,
 * _NODE_ID (a node id that does not belong to its identity key).
 */
export function verifyDirectoryDocument(
  doc: AnyTopology,
  trust: DirectoryTrust,
  o: VerifyOptions = {},
): DirectoryDocument {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    fail('ERR_LOOPIX_DIRECTORY_MALFORMED', '(root)', 'must be an object');
  const { signatures, ...body } = doc as DirectoryDocument;
  if (!Array.isArray(signatures))
    fail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'signatures', 'must be an array of {publicKey, value}');
  if ('signature' in body)
    fail(
      'ERR_LOOPIX_DIRECTORY_MALFORMED',
      'signature',
      'a directory document carries `signatures`, not a single `signature`',
    );
  const section = DirectorySectionSchema.safeParse(body.directory);
  if (!section.success) {
    const issue = section.error.issues[0]!;
    fail('ERR_LOOPIX_DIRECTORY_MALFORMED', `directory.${issue.path.join('.')}`, issue.message);
  }
  const trusted = new Set(trust.authorities);
  const valid = new Set<string>();
  const bad: string[] = [];
  for (const [i, raw] of (signatures as unknown[]).entries()) {
    const s = raw as { publicKey?: unknown; value?: unknown } | null;
    if (s === null || typeof s !== 'object' || typeof s.publicKey !== 'string' || typeof s.value !== 'string') {
      return fail('ERR_LOOPIX_DIRECTORY_MALFORMED', `signatures[${i}]`, 'must be {publicKey, value} (hex)');
    }
    if (!trusted.has(s.publicKey)) continue; // an unknown authority's signature neither counts nor harms
    if (documentSignatureValid(body, { publicKey: s.publicKey, value: s.value })) valid.add(s.publicKey);
    else bad.push(s.publicKey);
  }
  if (valid.size < trust.threshold) {
    if (bad.length > 0) {
      fail(
        'ERR_LOOPIX_DIRECTORY_BAD_SIGNATURE',
        'signatures',
        `${bad.length} signature(s) (authorities ${bad.join(', ')}) do not verify over this document's bytes; ${valid.size} valid of ${trust.threshold} needed`,
      );
    }
    fail(
      'ERR_LOOPIX_DIRECTORY_QUORUM',
      'signatures',
      `${valid.size} valid signature(s) of trusted authorities, ${trust.threshold} of ${trust.authorities.length} needed`,
    );
  }
  if (o.minEpoch !== undefined && body.epoch < o.minEpoch)
    fail('ERR_LOOPIX_DIRECTORY_OLD_EPOCH', 'epoch', `is ${body.epoch}, older than epoch ${o.minEpoch} already held`);
  try {
    validateBody(body);
  } catch (err) {
    fail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'body', (err as Error).message);
  }
  const addressBytes = makeGeometry(body.geometry).addressBytes;
  for (const [i, n] of body.nodes.entries()) {
    if (n.identityKey === undefined || !HEX64.test(n.identityKey) || nodeIdFor(n.identityKey, addressBytes) !== n.id) {
      fail(
        'ERR_LOOPIX_DIRECTORY_NODE_ID',
        `nodes[${i}].id`,
        `${n.id} is not the id of identity key ${n.identityKey ?? '(none)'}`,
      );
    }
  }
  return doc as DirectoryDocument;
}
