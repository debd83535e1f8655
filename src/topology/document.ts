/**
 * Signing, verifying and indexing the topology document. Signatures are Ed25519 (node:crypto, i.e. the
 * OpenSSL inside Node) over a canonical JSON encoding: object keys sorted, no whitespace, so the same
 * document always signs to the same bytes whatever order a file lists its fields in.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { verifyDirectoryDocument, type DirectoryTrust } from '../directory/document.js';
import { TopologyError } from '../errors.js';
import { makeGeometry, type Geometry } from '../geometry.js';
import { readJsonFile } from '../util/json-file.js';
import type { AnyTopology, NodeEntry, SignedTopology, TopologyBody } from './types.js';

/**
 * What a verifier trusts: one authority key (a static signed file), or the directory's n authority keys and
 * the threshold k (a document valid with k of n signatures, src/directory/document.ts).
 */
export type TopologyTrust = string | DirectoryTrust;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const HEX = /^[0-9a-f]*$/;

/**
 * Default key-epoch length, seconds (20 minutes). Shorter epochs limit what a stolen key decrypts and how
 * long a compromised node's key stays useful; longer ones mean fewer directory documents and a larger replay
 * filter, which must hold line rate × (epoch + grace) tags: at 20 minutes and 10,000 packets/s that is 13 M
 * tags, 47 MB at a 10⁻⁶ false-positive rate (docs/operations.md "Key epochs").
 */
export const DEFAULT_EPOCH_LENGTH_S = 1200;

export { TopologyError };

/** Canonical JSON: sorted keys, no whitespace; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

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

function fail(path: string, message: string): never {
  throw new TopologyError(`topology ${path}: ${message}`, {
    code: path.startsWith('signature') ? 'ERR_LOOPIX_TOPOLOGY_SIGNATURE' : 'ERR_LOOPIX_TOPOLOGY_INVALID',
    field: path,
  });
}

function hexField(path: string, value: unknown, bytes: number): void {
  if (typeof value !== 'string' || !HEX.test(value) || value.length !== bytes * 2) {
    fail(path, `must be ${bytes} bytes of lowercase hex, got ${JSON.stringify(value)}`);
  }
}

/** Structural checks with errors that name the field; run before signing and after verifying. */
/** Array.isArray without its `any[]` narrowing, which would turn every element of a checked array into `any`. */
function isArray(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}

export function validateBody(body: TopologyBody): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail('(root)', `must be an object, got ${JSON.stringify(body)}`);
  if (body.version !== 1) fail('version', `must be 1, got ${JSON.stringify(body.version)}`);
  if (!Number.isInteger(body.epoch) || body.epoch < 0) fail('epoch', `must be a non-negative integer, got ${JSON.stringify(body.epoch)}`);
  if ((body.epochLengthS === undefined) !== (body.epochStartMs === undefined)) fail('epochLengthS', 'epochLengthS and epochStartMs must be given together');
  if (body.epochLengthS !== undefined && (typeof body.epochLengthS !== 'number' || !(body.epochLengthS >= 1) || body.epochLengthS > 366 * 86_400)) {
    fail('epochLengthS', `must be a number of seconds in 1..${366 * 86_400}, got ${JSON.stringify(body.epochLengthS)}`);
  }
  if (body.epochStartMs !== undefined && (!Number.isInteger(body.epochStartMs) || body.epochStartMs < 0)) {
    fail('epochStartMs', `must be a non-negative integer (unix ms), got ${JSON.stringify(body.epochStartMs)}`);
  }
  let g: Geometry;
  try {
    g = makeGeometry(body.geometry);
  } catch (err) {
    return fail('geometry', (err as Error).message);
  }
  if (!Number.isInteger(body.layers) || body.layers < 1) fail('layers', `must be a positive integer, got ${JSON.stringify(body.layers)}`);
  if (body.maxDelayUs !== undefined && (!Number.isInteger(body.maxDelayUs) || body.maxDelayUs < 1 || body.maxDelayUs > 0xffff_ffff)) {
    fail('maxDelayUs', `must be an integer number of microseconds in 1..4294967295, got ${JSON.stringify(body.maxDelayUs)}`);
  }
  if (!isArray(body.nodes) || body.nodes.length === 0) fail('nodes', 'must be a non-empty array');
  const ids = new Set<string>();
  body.nodes.forEach((n, i) => {
    const at = `nodes[${i}]`;
    if (n === null || typeof n !== 'object' || isArray(n)) fail(at, `must be an object, got ${JSON.stringify(n)}`);
    hexField(`${at}.id`, n.id, g.addressBytes);
    if (ids.has(n.id)) fail(`${at}.id`, `duplicate id ${n.id}`);
    ids.add(n.id);
    if (n.role !== 'mix' && n.role !== 'provider') fail(`${at}.role`, `must be "mix" or "provider", got ${JSON.stringify(n.role)}`);
    const layerOk = n.role === 'provider' ? n.layer === 0 : Number.isInteger(n.layer) && n.layer >= 1 && n.layer <= body.layers;
    if (!layerOk) fail(`${at}.layer`, `${n.role} layer must be ${n.role === 'provider' ? '0' : `1..${body.layers}`}, got ${JSON.stringify(n.layer)}`);
    if (!n.udp || typeof n.udp.host !== 'string' || !Number.isInteger(n.udp.port) || n.udp.port < 1 || n.udp.port > 65535) {
      fail(`${at}.udp`, `must be {host, port 1..65535}, got ${JSON.stringify(n.udp)}`);
    }
    if (n.role === 'provider' && (typeof n.ws !== 'string' || !/^wss?:\/\//.test(n.ws))) fail(`${at}.ws`, `provider needs a ws:// URL, got ${JSON.stringify(n.ws)}`);
    hexField(`${at}.publicKey`, n.publicKey, 32);
    if (n.nextPublicKey !== undefined) hexField(`${at}.nextPublicKey`, n.nextPublicKey, 32);
    if (n.identityKey !== undefined) hexField(`${at}.identityKey`, n.identityKey, 32);
    if (n.postOffice !== undefined && (n.postOffice !== true || n.role !== 'provider')) fail(`${at}.postOffice`, `must be true on a provider or absent, got ${JSON.stringify(n.postOffice)}`);
  });
  for (let layer = 0; layer <= body.layers; layer++) {
    if (!body.nodes.some((n) => n.layer === layer)) fail('nodes', `layer ${layer} has no node`);
  }
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

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

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
    const { signature: _s, signatures: _ss, ...body } = this.doc as AnyTopology & { signature?: unknown; signatures?: unknown };
    return createHash('sha256').update(canonicalJson(body)).digest('hex');
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
