/**
 * The epoch document of the directory authorities: the topology body (src/topology/types.ts) plus a
 * `directory` section (who signs, k, the isolation parameters, the links and nodes removed this epoch),
 * with one Ed25519 signature per authority that agrees with it. Valid with ≥ k signatures of the n trusted
 * authorities over signedBytes('document', body) (docs/packet-format.md "Directory encoding").
 *
 * Building is deterministic: the same descriptors and reports give the same bytes at every authority
 * (nodes sorted by id, `issuedAt` = the epoch's start, isolation lists sorted), so authorities that saw the
 * same uploads sign the same document and their signatures add up (docs/operations.md "Directory
 * authorities" says what happens when they did not).
 */
import { LoopixError } from '../errors.js';
import { validateBody } from '../topology/document.js';
import type { AnyTopology, DirectoryDocument, NodeEntry, TopologyBody } from '../topology/types.js';
import { makeGeometry, type GeometryParams } from '../geometry.js';
import { nodeIdFor, signObject, verifyObject, type IdentityKey } from './identity.js';
import { computeIsolation } from './isolation.js';
import { DirectorySectionSchema, type DescriptorBody, type IsolationParams, type ReportBody } from './schemas.js';

/** What a client or node trusts: the n authority keys and k. */
export interface DirectoryTrust {
  readonly authorities: readonly string[];
  readonly threshold: number;
}

/** Network-wide constants every authority of one network is configured with identically. */
export interface NetworkConstants {
  readonly geometry: GeometryParams;
  readonly layers: number;
  readonly epochLengthS: number;
  /** An epoch number and the unix ms at which it began: fixes every epoch's start. */
  readonly genesisEpoch: number;
  readonly genesisMs: number;
  readonly isolation: IsolationParams;
}

export function epochStartMs(c: Pick<NetworkConstants, 'epochLengthS' | 'genesisEpoch' | 'genesisMs'>, epoch: number): number {
  return c.genesisMs + (epoch - c.genesisEpoch) * c.epochLengthS * 1000;
}

export function epochAtMs(c: Pick<NetworkConstants, 'epochLengthS' | 'genesisEpoch' | 'genesisMs'>, nowMs: number): number {
  return c.genesisEpoch + Math.floor((nowMs - c.genesisMs) / (c.epochLengthS * 1000));
}

function fail(code: `ERR_LOOPIX_DIRECTORY_${string}`, field: string, message: string): never {
  throw new LoopixError(code, `directory document ${field}: ${message}`, { field });
}

/** The document body for `epoch` from the descriptors (latest per node) and the reports held. */
export function buildDocumentBody(
  c: NetworkConstants,
  trust: DirectoryTrust,
  epoch: number,
  descriptors: readonly DescriptorBody[],
  reports: readonly ReportBody[],
): TopologyBody & { directory: DirectoryDocument['directory'] } {
  const nodes: NodeEntry[] = [];
  for (const d of descriptors) {
    const now = d.keys.find((k) => k.epoch === epoch);
    if (!now) continue;
    const next = d.keys.find((k) => k.epoch === epoch + 1);
    nodes.push({
      id: d.id,
      name: d.name,
      role: d.role,
      layer: d.layer,
      udp: { host: d.udp.host, port: d.udp.port },
      ...(d.ws !== undefined ? { ws: d.ws } : {}),
      ...(d.postOffice ? { postOffice: true as const } : {}),
      publicKey: now.publicKey,
      ...(next ? { nextPublicKey: next.publicKey } : {}),
      identityKey: d.identityKey,
    });
  }
  nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const isolation = computeIsolation(epoch, reports, c.isolation, new Set(nodes.map((n) => n.id)));
  const body = {
    version: 1 as const,
    epoch,
    epochLengthS: c.epochLengthS,
    epochStartMs: epochStartMs(c, epoch),
    issuedAt: new Date(epochStartMs(c, epoch)).toISOString(),
    geometry: c.geometry,
    layers: c.layers,
    nodes,
    directory: {
      authorities: [...trust.authorities].sort(),
      threshold: trust.threshold,
      isolation: c.isolation,
      ...isolation,
    },
  };
  validateBody(body);
  return body;
}

/** One authority's signature over a document body. */
export function signDocument(body: TopologyBody, key: IdentityKey): { publicKey: string; value: string } {
  return { publicKey: key.publicKey, value: signObject('document', body, key) };
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
export function verifyDirectoryDocument(doc: AnyTopology, trust: DirectoryTrust, o: VerifyOptions = {}): DirectoryDocument {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail('ERR_LOOPIX_DIRECTORY_MALFORMED', '(root)', 'must be an object');
  const { signatures, ...body } = doc as DirectoryDocument;
  if (!Array.isArray(signatures)) fail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'signatures', 'must be an array of {publicKey, value}');
  if ('signature' in body) fail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'signature', 'a directory document carries `signatures`, not a single `signature`');
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
      fail('ERR_LOOPIX_DIRECTORY_MALFORMED', `signatures[${i}]`, 'must be {publicKey, value} (hex)');
      continue; // not reached: fail throws
    }
    if (!trusted.has(s.publicKey)) continue; // an unknown authority's signature neither counts nor harms
    if (documentSignatureValid(body, { publicKey: s.publicKey, value: s.value })) valid.add(s.publicKey);
    else bad.push(s.publicKey);
  }
  if (valid.size < trust.threshold) {
    if (bad.length > 0) {
      fail('ERR_LOOPIX_DIRECTORY_BAD_SIGNATURE', 'signatures', `${bad.length} signature(s) (authorities ${bad.join(', ')}) do not verify over this document's bytes; ${valid.size} valid of ${trust.threshold} needed`);
    }
    fail('ERR_LOOPIX_DIRECTORY_QUORUM', 'signatures', `${valid.size} valid signature(s) of trusted authorities, ${trust.threshold} of ${trust.authorities.length} needed`);
  }
  if (o.minEpoch !== undefined && body.epoch < o.minEpoch) fail('ERR_LOOPIX_DIRECTORY_OLD_EPOCH', 'epoch', `is ${body.epoch}, older than epoch ${o.minEpoch} already held`);
  try {
    validateBody(body);
  } catch (err) {
    fail('ERR_LOOPIX_DIRECTORY_MALFORMED', 'body', (err as Error).message);
  }
  const addressBytes = makeGeometry(body.geometry).addressBytes;
  for (const [i, n] of body.nodes.entries()) {
    if (n.identityKey === undefined || nodeIdFor(n.identityKey, addressBytes) !== n.id) {
      fail('ERR_LOOPIX_DIRECTORY_NODE_ID', `nodes[${i}].id`, `${n.id} is not the id of identity key ${n.identityKey ?? '(none)'}`);
    }
  }
  return doc as DirectoryDocument;
}
