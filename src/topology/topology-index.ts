/**
 * The lookups a node or client needs from a verified topology document (layers, ids, keys per epoch, the
 * epoch schedule). Runtime-neutral: SHA-256 from @noble/hashes, so the browser client can use it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { makeGeometry, type Geometry } from '../geometry.js';
import { canonicalJson } from './canonical.js';
import type { AnyTopology, NodeEntry } from './types.js';

/** Lookups a node or client needs, built once per document. */
export class TopologyIndex {
  readonly geometry: Geometry;
  readonly byId: ReadonlyMap<string, NodeEntry>;
  /** layerNodes[0] = providers, layerNodes[i] = mixes of layer i. */
  readonly layerNodes: readonly (readonly NodeEntry[])[];

  /** Nodes no path may use (directory documents: excluded by bad-server isolation). */
  readonly excluded: ReadonlySet<string>;
  /** Links no path may use, as `from>to` (directory documents). */
  readonly removedLinks: ReadonlySet<string>;

  constructor(readonly doc: AnyTopology) {
    this.geometry = makeGeometry(doc.geometry);
    this.byId = new Map(doc.nodes.map((n) => [n.id, n]));
    this.layerNodes = Array.from({ length: doc.layers + 1 }, (_, layer) => doc.nodes.filter((n) => n.layer === layer));
    this.excluded = new Set(doc.directory?.excluded ?? []);
    this.removedLinks = new Set((doc.directory?.removedLinks ?? []).map((l) => `${l.from}>${l.to}`));
  }

  /** SHA-256 (hex) of the signed content: two documents with the same fingerprint say the same thing. */
  get fingerprint(): string {
    const {
      signature: _s,
      signatures: _ss,
      ...body
    } = this.doc as AnyTopology & { signature?: unknown; signatures?: unknown };
    return bytesToHex(sha256(new TextEncoder().encode(canonicalJson(body))));
  }

  /** Whether a path may go from `from` to `to` (neither excluded, the link not removed). */
  usable(from: string, to: string): boolean {
    return !this.excluded.has(from) && !this.excluded.has(to) && !this.removedLinks.has(`${from}>${to}`);
  }

  /**
   * Unix ms after which this document is no use: it carries keys for its epoch and the next one, so it
   * expires when the epoch after next begins (never, for a document without an epoch schedule).
   */
  get expiresAtMs(): number {
    return this.rotates ? this.epochStart(this.doc.epoch + 2) : Infinity;
  }

  get providers(): readonly NodeEntry[] {
    return this.layerNodes[0]!;
  }

  /** Providers listed as post offices (`postOffice: true`). */
  get postOffices(): readonly NodeEntry[] {
    return this.layerNodes[0]!.filter((n) => n.postOffice === true);
  }

  /** Whether keys rotate (the document carries an epoch schedule). */
  get rotates(): boolean {
    return this.doc.epochLengthS !== undefined && this.doc.epochStartMs !== undefined;
  }

  /**
   * The key epoch in force at unix time `nowMs` by this document's schedule (the document's own epoch when
   * keys do not rotate). May lie before or after the document's epoch when the document is old or early.
   */
  epochAt(nowMs: number): number {
    const { epochLengthS, epochStartMs } = this.doc;
    if (epochLengthS === undefined || epochStartMs === undefined) return this.doc.epoch;
    return this.doc.epoch + Math.floor((nowMs - epochStartMs) / (epochLengthS * 1000));
  }

  /** Unix ms at which `epoch` begins by this document's schedule (NaN without one). */
  epochStart(epoch: number): number {
    const { epochLengthS, epochStartMs } = this.doc;
    if (epochLengthS === undefined || epochStartMs === undefined) return NaN;
    return epochStartMs + (epoch - this.doc.epoch) * epochLengthS * 1000;
  }

  /** `node`'s public key (hex) for `epoch`: the document knows the current and the next one. */
  keyFor(node: NodeEntry, epoch: number): string | undefined {
    // By id in THIS document: `node` may be an entry of an older document (a node's own entry from start-up).
    const entry = this.byId.get(node.id);
    if (!entry) return undefined;
    if (epoch === this.doc.epoch) return entry.publicKey;
    if (epoch === this.doc.epoch + 1) return entry.nextPublicKey;
    return undefined;
  }

  /**
   * The epoch a sender uses at `nowMs`: the scheduled one when this document has every node's key for it,
   * else the latest epoch it has keys for (a stale document: the packet may then arrive after the nodes'
   * grace window and be dropped as key_expired, which is counted — never a silent failure).
   */
  senderEpoch(nowMs: number): number {
    const want = this.epochAt(nowMs);
    if (want <= this.doc.epoch) return this.doc.epoch;
    return this.doc.nodes.every((n) => n.nextPublicKey !== undefined) ? this.doc.epoch + 1 : this.doc.epoch;
  }

  node(id: string): NodeEntry | undefined {
    return this.byId.get(id);
  }
}
