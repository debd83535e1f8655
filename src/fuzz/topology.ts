/**
 * The topology target: verifyTopology on mutated signed documents, and signTopology (whose validateBody is
 * the same check a node runs after verifying) on mutated bodies, with a fixed test authority key.
 *
 * Crashes: any exception but a LoopixError ERR_LOOPIX_TOPOLOGY_*; a mutated document that verifies although its signed content
 * or its signature changed (a document verifies iff canonicalJson of everything but `signature` and the
 * signature's algorithm / publicKey / value are the original's — key order, -0 vs 0 and extra fields inside
 * `signature` are not part of what is signed); a signed body that then fails to verify or to index.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { DEFAULT_GEOMETRY_PARAMS } from '../geometry.js';
import { isLoopixError, type LoopixError } from '../errors.js';
import { canonicalJson, signTopology, TopologyIndex, verifyTopology, type AuthorityKey } from '../topology/document.js';
import type { SignedTopology, TopologyBody } from '../topology/types.js';
import type { FuzzTarget } from './harness.js';
import { mutateJson } from './json-mutate.js';
import { mutateBytes, type Rng } from './rng.js';

/** The oracle switches on codes: only the topology's own refusals are expected outcomes. */
function isTopologyError(err: unknown): err is LoopixError {
  return isLoopixError(err) && err.code.startsWith('ERR_LOOPIX_TOPOLOGY_');
}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX_LENGTH = 12;

/** An Ed25519 authority key from a 32-byte seed (fixed, so stored inputs replay). */
export function authorityFromSeed(seed: Uint8Array): AuthorityKey {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX_LENGTH);
  return { publicKey: pub.toString('hex'), privateKey: Buffer.from(seed).toString('hex') };
}

const hex = (byte: number, bytes: number) => byte.toString(16).padStart(2, '0').repeat(bytes);

/** A small valid body: 2 mix layers of 2, 2 providers, one node announcing its next key. */
export function baseBody(): TopologyBody {
  const node = (i: number, role: 'mix' | 'provider', layer: number) => ({
    id: hex(0x10 + i, DEFAULT_GEOMETRY_PARAMS.addressBytes),
    name: `${role}-${i}`,
    role,
    layer,
    udp: { host: '127.0.0.1', port: 9000 + i },
    ...(role === 'provider' ? { ws: `ws://127.0.0.1:${9100 + i}` } : {}),
    publicKey: hex(0x40 + i, 32),
    ...(i === 2 ? { nextPublicKey: hex(0x80 + i, 32) } : {}),
  });
  return {
    version: 1,
    epoch: 3,
    issuedAt: '2026-01-01T00:00:00.000Z',
    geometry: {
      maxHops: DEFAULT_GEOMETRY_PARAMS.maxHops,
      addressBytes: DEFAULT_GEOMETRY_PARAMS.addressBytes,
      contentBytes: DEFAULT_GEOMETRY_PARAMS.contentBytes,
    },
    layers: 2,
    nodes: [
      node(0, 'provider', 0),
      node(1, 'provider', 0),
      node(2, 'mix', 1),
      node(3, 'mix', 1),
      node(4, 'mix', 2),
      node(5, 'mix', 2),
    ],
  };
}

export interface TopologyInput {
  /** verify: `doc` against the authority (or another key); sign: sign `doc` as a body, then verify. */
  readonly mode: 'verify' | 'sign';
  readonly doc: unknown;
  readonly trustOther?: boolean;
}

export function topologyTarget(): FuzzTarget<TopologyInput> {
  const authority = authorityFromSeed(new Uint8Array(32).fill(0x5a));
  const other = authorityFromSeed(new Uint8Array(32).fill(0x5b));
  const body = baseBody();
  const signed = signTopology(body, authority);
  const original = { canonical: canonicalJson(body), ...signed.signature };

  /** Whether `doc` carries exactly the signed content and signature of the original. */
  function unchanged(doc: unknown): boolean {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false;
    const { signature, ...rest } = doc as Record<string, unknown>;
    if (signature === null || typeof signature !== 'object') return false;
    const s = signature as Record<string, unknown>;
    return (
      canonicalJson(rest) === original.canonical &&
      s.algorithm === original.algorithm &&
      s.publicKey === original.publicKey &&
      s.value === original.value
    );
  }

  function generate(r: Rng): TopologyInput {
    const roll = r.int(10);
    if (roll < 2) return { mode: 'sign', doc: mutateJson(r, body) };
    if (roll === 2) {
      // damage only the signature value (hex text)
      const value = Buffer.from(mutateBytes(r, Buffer.from(signed.signature.value))).toString('latin1');
      return { mode: 'verify', doc: { ...signed, signature: { ...signed.signature, value } } };
    }
    if (roll === 3 && r.chance(0.1)) return { mode: 'verify', doc: signed, trustOther: true };
    return { mode: 'verify', doc: mutateJson(r, signed) };
  }

  function check(input: TopologyInput): string {
    // verifyTopology freezes what it accepts: work on a copy so that stored inputs stay usable.
    const doc = JSON.parse(JSON.stringify(input.doc ?? null)) as SignedTopology;
    if (input.mode === 'sign') {
      let out: SignedTopology;
      try {
        out = signTopology(doc, authority);
      } catch (err) {
        if (isTopologyError(err)) return `sign-refused:${err.field?.replace(/\[\d+\]/g, '[]') ?? '?'}`;
        throw err;
      }
      verifyTopology(JSON.parse(JSON.stringify(out)) as SignedTopology, authority.publicKey); // must not throw
      new TopologyIndex(out);
      return 'signed';
    }
    const same = unchanged(doc) && !input.trustOther;
    try {
      const ok = verifyTopology(doc, input.trustOther ? other.publicKey : authority.publicKey);
      if (!same) throw new Error('a changed document verified');
      new TopologyIndex(ok);
      return 'verified';
    } catch (err) {
      if (!isTopologyError(err)) throw err;
      if (same) throw new Error(`the unchanged document was refused: ${err.message}`);
      return `refused:${err.field ?? '?'}`;
    }
  }

  return {
    name: 'topology-verifier',
    share: 0.04,
    generate,
    check,
    toJson: (i) => i,
    fromJson: (j) => {
      const o = j as Partial<TopologyInput>;
      if (!o || (o.mode !== 'verify' && o.mode !== 'sign')) throw new TypeError('mode must be "verify" or "sign"');
      return { mode: o.mode, doc: o.doc, ...(o.trustOther ? { trustOther: true } : {}) };
    },
  };
}
