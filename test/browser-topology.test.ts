/**
 * The topology verifier (src/topology/portable-verify.ts and src/directory/verify.ts, @noble; one
 * implementation behind `loopix`'s verifyTopology and `loopix/client`'s): on valid documents and on every kind
 * of forgery both entry points give the same verdict and error code — as an attacker would forge them (bytes
 * changed after signing, a stranger's key, signatures moved, too few of them) — and its strict Ed25519 check
 * agrees with OpenSSL's (node:crypto) on genuine, altered and non-canonical signatures.
 */
import { describe, expect, it } from 'vitest';
import { generateIdentityKey } from '../src/directory/identity.js';
import { generateAuthorityKey, signTopology, verifyTopology, type TopologyTrust } from '../src/topology/document.js';
import { verifyTopologyPortable } from '../src/topology/portable-verify.js';
import { TopologyIndex } from '../src/topology/topology-index.js';
import type { AnyTopology, DirectoryDocument, SignedTopology, TopologyBody } from '../src/topology/types.js';
import { descriptorOf, inProcessNetwork, publishEpoch } from './directory-fixtures.js';
import { codeOf } from './helpers/errors.js';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJson } from '../src/topology/canonical.js';

/** Both verifiers' verdicts on one document. */
function both(doc: unknown, trust: TopologyTrust): { node: string; portable: string } {
  const copy = () => JSON.parse(JSON.stringify(doc)) as AnyTopology;
  return {
    node: codeOf(() => verifyTopology(copy(), trust)),
    portable: codeOf(() => verifyTopologyPortable(copy(), trust)),
  };
}

/** A document of the directory authorities (epoch 6 of an in-process network) and how to trust it. */
function directoryDocument(): { doc: DirectoryDocument; trust: { authorities: string[]; threshold: number } } {
  const net = inProcessNetwork({ perLayer: 1, epochs: 4 });
  for (const a of net.authorities)
    a.mergePeer({ descriptors: net.nodes.map((n) => descriptorOf(n)), reports: [], signatures: [] });
  const doc = publishEpoch(net, 6);
  return { doc, trust: { authorities: [...net.trust.authorities], threshold: net.trust.threshold } };
}

/** A static topology body of one provider and one mix (fixed keys and addresses: only the signature is tested). */
function twoNodeBody(epoch: number, issuedAt: string): TopologyBody {
  return {
    version: 1,
    epoch,
    issuedAt,
    geometry: { maxHops: 6, addressBytes: 16, contentBytes: 1024 },
    layers: 1,
    nodes: [
      {
        id: '11'.repeat(16),
        name: 'p',
        role: 'provider',
        layer: 0,
        udp: { host: '127.0.0.1', port: 9000 },
        ws: 'ws://127.0.0.1:9100',
        publicKey: 'aa'.repeat(32),
      },
      {
        id: '22'.repeat(16),
        name: 'm',
        role: 'mix',
        layer: 1,
        udp: { host: '127.0.0.1', port: 9001 },
        publicKey: 'bb'.repeat(32),
      },
    ],
  };
}

describe('browser topology verifier', () => {
  it('agrees with the Node verifier on a static signed document and on each forgery of it', () => {
    const authority = generateAuthorityKey();
    const other = generateAuthorityKey();
    const body = twoNodeBody(3, '2026-01-01T00:00:00.000Z');
    const doc = signTopology(body, authority);
    const cases: Record<string, [unknown, TopologyTrust]> = {
      valid: [doc, authority.publicKey],
      // A provider's WebSocket redirected after signing: the attacker's man in the middle.
      alteredWs: [
        { ...doc, nodes: [{ ...doc.nodes[0]!, ws: 'ws://198.51.100.1:9100' }, doc.nodes[1]] },
        authority.publicKey,
      ],
      alteredKey: [
        { ...doc, nodes: [doc.nodes[0], { ...doc.nodes[1]!, publicKey: 'cc'.repeat(32) }] },
        authority.publicKey,
      ],
      otherAuthority: [signTopology(body, other), authority.publicKey],
      stolenSignatureRelabelled: [
        {
          ...signTopology(body, other),
          signature: { ...signTopology(body, other).signature, publicKey: authority.publicKey },
        },
        authority.publicKey,
      ],
      noSignature: [{ ...body }, authority.publicKey],
    };
    const got = Object.fromEntries(Object.entries(cases).map(([k, [d, t]]) => [k, both(d, t)]));
    for (const [k, v] of Object.entries(got)) expect(v.portable, k).toBe(v.node);
    expect(got.valid!.portable).toBe('accepted');
    for (const k of ['alteredWs', 'alteredKey', 'otherAuthority', 'stolenSignatureRelabelled'])
      expect(got[k]!.portable, k).toMatch(/^ERR_LOOPIX_TOPOLOGY_SIGNATURE/);
  });

  it('rejects a static document signed with a non-canonical (S + L) signature, as strict RFC 8032 and OpenSSL do', () => {
    const authority = generateAuthorityKey();
    const doc = signTopology(twoNodeBody(1, 'x'), authority);
    // S' = S + L (little-endian 32 bytes): the same group element, a second encoding a lax verifier accepts.
    const sig = Buffer.from(doc.signature.value, 'hex');
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    s += L;
    for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
    const forged: SignedTopology = { ...doc, signature: { ...doc.signature, value: sig.toString('hex') } };
    expect(both(forged, authority.publicKey)).toEqual({
      node: 'ERR_LOOPIX_TOPOLOGY_SIGNATURE',
      portable: 'ERR_LOOPIX_TOPOLOGY_SIGNATURE',
    });
  });

  it('agrees with the Node verifier on a k-of-n directory document and on each forgery of it', () => {
    const { doc, trust } = directoryDocument();
    const stranger = generateIdentityKey();
    const n0 = doc.nodes[0]!;
    const cases: Record<string, unknown> = {
      valid: doc,
      kMinusOne: { ...doc, signatures: doc.signatures.slice(0, trust.threshold - 1) },
      strangerSignature: {
        ...doc,
        signatures: [doc.signatures[0]!, { publicKey: stranger.publicKey, value: doc.signatures[1]!.value }],
      },
      signatureMoved: {
        ...doc,
        signatures: [doc.signatures[0]!, { publicKey: doc.signatures[2]!.publicKey, value: doc.signatures[1]!.value }],
      },
      alteredWs: { ...doc, nodes: [{ ...n0, ws: 'ws://198.51.100.1:1' }, ...doc.nodes.slice(1)] },
      singleSignatureField: {
        ...doc,
        signature: { algorithm: 'ed25519', publicKey: trust.authorities[0], value: '00'.repeat(64) },
      },
    };
    const got = Object.fromEntries(Object.entries(cases).map(([k, d]) => [k, both(d, trust)]));
    for (const [k, v] of Object.entries(got)) expect(v.portable, k).toBe(v.node);
    expect(got.valid!.portable).toBe('accepted');
    expect(got.kMinusOne!.portable).toBe('ERR_LOOPIX_DIRECTORY_QUORUM');
    expect(got.alteredWs!.portable).toBe('ERR_LOOPIX_DIRECTORY_BAD_SIGNATURE');
  });

  it('gives the TopologyIndex fingerprint that node:crypto SHA-256 gives', () => {
    const { doc } = directoryDocument();
    const { signatures: _s, ...body } = doc;
    expect(new TopologyIndex(doc).fingerprint).toBe(createHash('sha256').update(canonicalJson(body)).digest('hex'));
  });

  it('its Ed25519 check (noble, strict RFC 8032) agrees with OpenSSL on genuine, altered and non-canonical signatures', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n; // the group order
    for (let i = 0; i < 40; i++) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
      const message = randomBytes(1 + (i % 64));
      const good = sign(null, message, privateKey);
      const cases: Buffer[] = [good];
      const flipped = Buffer.from(good);
      flipped[i % 64]! ^= 1 << (i % 8);
      cases.push(flipped);
      // S + L: the same point equation holds, but S is not reduced — RFC 8032 §5.1.7 requires rejecting it.
      const s = BigInt(`0x${Buffer.from(good.subarray(32)).reverse().toString('hex')}`) + L;
      if (s < 2n ** 256n)
        cases.push(
          Buffer.concat([good.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse()]),
        );
      for (const sig of cases) {
        const openssl = verify(
          null,
          message,
          createPublicKey({ key: publicKey.export({ format: 'der', type: 'spki' }), format: 'der', type: 'spki' }),
          sig,
        );
        const noble = ed25519.verify(sig, message, raw, { zip215: false });
        expect(noble, `case ${cases.indexOf(sig)} of key ${i}`).toBe(openssl);
      }
    }
  });
});
