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
import { validateBody } from '../topology/validate.js';
import type { DirectoryTrust } from './verify.js';
import type { DirectoryDocument, NodeEntry, TopologyBody } from '../topology/types.js';
import type { GeometryParams } from '../geometry.js';
import { signObject, type IdentityKey } from './identity.js';
import { computeIsolation } from './isolation.js';
import { type DescriptorBody, type IsolationParams, type ReportBody } from './schemas.js';
// Verification has no Node built-in and lives apart (browser clients use it); re-exported for the callers here.
export { documentSignatureValid, verifyDirectoryDocument, type DirectoryTrust, type VerifyOptions } from './verify.js';

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

export function epochStartMs(
  c: Pick<NetworkConstants, 'epochLengthS' | 'genesisEpoch' | 'genesisMs'>,
  epoch: number,
): number {
  return c.genesisMs + (epoch - c.genesisEpoch) * c.epochLengthS * 1000;
}

export function epochAtMs(
  c: Pick<NetworkConstants, 'epochLengthS' | 'genesisEpoch' | 'genesisMs'>,
  nowMs: number,
): number {
  return c.genesisEpoch + Math.floor((nowMs - c.genesisMs) / (c.epochLengthS * 1000));
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
