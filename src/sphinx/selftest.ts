/**
 * Start-up self-check of a Sphinx backend against known answers: one RFC 7748 X25519 vector and one Sphinx
 * packet built from fixed keys and a fixed seed, whose digest is pinned here (the same packet is part of
 * test/vectors/sphinx-v1.json). An addon built wrongly, or against a different OpenSSL that behaves
 * differently, fails here before it touches a single real packet.
 */
import { DEFAULT_GEOMETRY } from '../geometry.js';
import { Command, type SphinxBackend } from './types.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** RFC 7748 §5.2, first test vector. */
const RFC7748 = {
  scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
  u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
  out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
};

/** HMAC-SHA256(key "loopix-selftest", packet) of the packet built by selfTestPacket. */
export const SELFTEST_PACKET_DIGEST = 'f5692f37b88c0d9dc4359086c874351081b26709dc908c2d72453968720b0e3a';

/** Deterministic keys and content for the self-test packet: two hops, RELAY then FINAL. */
export function selfTestMaterial(b: SphinxBackend) {
  const g = DEFAULT_GEOMETRY;
  const derive = (label: string, n: number) =>
    b.hkdfSha256(ascii('loopix-selftest'), ascii(label), new Uint8Array(0), n);
  const sk = [derive('hop0 key', 32), derive('hop1 key', 32)];
  const pk = sk.map((k) => b.x25519Base(k));
  const address = (label: string) => derive(label, g.addressBytes);
  const content = derive('content', 100);
  const seed = derive('seed', 32);
  const hops = [
    { publicKey: pk[0]!, command: Command.RELAY, address: address('hop1 address'), delayUs: 1234 },
    { publicKey: pk[1]!, command: Command.FINAL, address: address('message id'), delayUs: 0 },
  ];
  return { g, sk, pk, hops, content, seed, epoch: 7 };
}

export function selfTestPacket(b: SphinxBackend): Uint8Array {
  const m = selfTestMaterial(b);
  return b.createPacket(m.g, { epoch: m.epoch, hops: m.hops, content: m.content, seed: m.seed });
}

export function selfTestDigest(b: SphinxBackend, packet: Uint8Array): string {
  return toHex(b.hmacSha256(ascii('loopix-selftest'), packet));
}

/** Throws an Error saying which check failed. */
export function selfCheck(b: SphinxBackend): void {
  const got = toHex(b.x25519(hex(RFC7748.scalar), hex(RFC7748.u)));
  if (got !== RFC7748.out) throw new Error(`${b.name} backend fails RFC 7748 X25519: got ${got}`);
  const m = selfTestMaterial(b);
  const packet = selfTestPacket(b);
  const digest = selfTestDigest(b, packet);
  if (digest !== SELFTEST_PACKET_DIGEST) {
    throw new Error(`${b.name} backend builds a packet that differs from the pinned vector (digest ${digest})`);
  }
  const first = b.unwrap(m.g, m.sk[0]!, packet);
  if (first.kind !== 'relay' || first.delayUs !== 1234)
    throw new Error(`${b.name} backend: self-test hop 0 gave ${first.kind}`);
  const last = b.unwrap(m.g, m.sk[1]!, packet);
  if (last.kind !== 'final' || toHex(last.content.subarray(0, m.content.length)) !== toHex(m.content)) {
    throw new Error(`${b.name} backend: self-test final hop gave ${last.kind}`);
  }
}
