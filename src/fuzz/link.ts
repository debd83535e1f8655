/**
 * Link-framing target (src/node/link): datagrams arriving at a mix from the provider before it — valid
 * seals, mutated seals (bit flips in header, body or tag, truncation, extension, another epoch, a replayed
 * sequence number) and random bytes — opened by two receivers at once, one with the native AES-128-GCM and
 * one with the TypeScript twin, each with its own replay windows.
 *
 * A crash: a throw from `open`; the two receivers disagreeing (verdict or plaintext); a datagram that
 * differs from every seal the sender made being accepted (a forgery); an untouched, first-time seal being
 * refused; an accepted datagram whose plaintext is not the sealed packet.
 */
import { randomBytes } from 'node:crypto';
import type { Geometry } from '../geometry.js';
import { makeGeometry } from '../geometry.js';
import { LinkLayer, nativeLinkCipher, tsLinkCipher, type LinkCipher } from '../node/link/index.js';
import type { SphinxBackend } from '../sphinx/types.js';
import { TopologyIndex } from '../topology/document.js';
import type { NodeEntry, SignedTopology } from '../topology/types.js';
import type { FuzzTarget } from './harness.js';
import type { Rng } from './rng.js';

const g: Geometry = makeGeometry();
const EPOCH = 9;
/** Seals the oracle remembers (hex → packet), ≈ 4 MB. */
const MAX_SEALS = 1500;

interface LinkInput {
  /** Where the datagram comes from: the adjacent provider, or an address that is no node. */
  readonly from: 'peer' | 'stranger';
  readonly datagram: Uint8Array;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function linkTarget(backend: SphinxBackend, rng: Rng): FuzzTarget<LinkInput> {
  // Fresh keys per run: a corpus datagram sealed in an earlier run is then a forgery to this run's
  // receivers (and must be refused), never a valid seal the oracle does not know about.
  const secrets = [randomBytes(32), randomBytes(32)].map((b) => Uint8Array.from(b));
  const key = (n: number) => secrets[n - 1]!;
  const nodes: NodeEntry[] = [
    { id: '01'.repeat(g.addressBytes), name: 'P', role: 'provider', layer: 0, udp: { host: '127.0.0.1', port: 1001 }, publicKey: hexOf(backend.x25519Base(key(1))) },
    { id: '02'.repeat(g.addressBytes), name: 'M', role: 'mix', layer: 1, udp: { host: '127.0.0.1', port: 1002 }, publicKey: hexOf(backend.x25519Base(key(2))) },
  ];
  // The link layer reads the document's entries only; the signature is not checked at this level.
  const doc = { version: 1, epoch: EPOCH, issuedAt: '', geometry: { maxHops: g.maxHops, addressBytes: g.addressBytes, contentBytes: g.contentBytes }, layers: 1, nodes, signature: { algorithm: 'ed25519', publicKey: '', value: '' } } as SignedTopology;
  const topology = new TopologyIndex(doc);
  const layer = (self: number, cipher: LinkCipher) =>
    new LinkLayer({ geometry: g, topology, selfId: nodes[self]!.id, ownKey: (e) => (e === EPOCH ? key(self + 1) : undefined), currentEpoch: () => EPOCH, x25519: (a, b) => backend.x25519(a, b), cipher });
  let native: LinkCipher;
  try {
    native = nativeLinkCipher();
  } catch {
    native = tsLinkCipher;
  }
  const sender = layer(0, native);
  const rxNative = layer(1, native);
  const rxTs = layer(1, tsLinkCipher);
  /** Every datagram the sender sealed (hex) → its packet, and those already accepted once. */
  const sealed = new Map<string, Uint8Array>();
  const accepted = new Set<string>();
  const seal = (r: Rng): Uint8Array => {
    // The oracle must know every seal: past its bound, reuse the pool instead of sealing more.
    if (sealed.size >= MAX_SEALS) return r.pick(pool);
    const packet = r.bytes(g.packetBytes);
    const d = sender.seal(packet, nodes[1]!.udp);
    if (typeof d === 'string') throw new Error(`fuzz set-up: cannot seal (${d})`);
    sealed.set(hexOf(d), packet);
    return d;
  };
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) pool.push(seal(rng));

  const mutate = (r: Rng, base: Uint8Array): Uint8Array => {
    const d = base.slice();
    switch (r.int(6)) {
      case 0:
        d[r.int(d.length)]! ^= 1 << r.int(8);
        return d;
      case 1:
        d[r.int(g.linkHeaderBytes)]! ^= 1 << r.int(8); // epoch or sequence number
        return d;
      case 2:
        d[d.length - 1 - r.int(g.linkTagBytes)]! ^= 1 << r.int(8); // tag
        return d;
      case 3:
        return d.subarray(0, r.int(d.length));
      case 4: {
        const longer = new Uint8Array(d.length + 1 + r.int(64));
        longer.set(d);
        return longer;
      }
      default:
        return d; // as sealed (first time: accepted; again: a replay)
    }
  };

  return {
    name: 'link-open',
    share: 0.05,
    generate: (r) => {
      const from = r.chance(0.1) ? 'stranger' : 'peer';
      const kind = r.int(4);
      if (kind === 0) return { from, datagram: r.bytes(r.chance(0.5) ? g.datagramBytes : r.int(2 * g.datagramBytes)) };
      if (kind === 1) return { from, datagram: seal(r) };
      return { from, datagram: mutate(r, r.pick(pool)) };
    },
    check: ({ from, datagram }) => {
      const host = '127.0.0.1';
      const port = from === 'peer' ? nodes[0]!.udp.port : 9;
      const a = rxNative.open(datagram.slice(), host, port);
      const b = rxTs.open(datagram.slice(), host, port);
      const va = typeof a === 'string' ? a : 'ok';
      const vb = typeof b === 'string' ? b : 'ok';
      if (va !== vb) throw new Error(`native says ${va}, twin says ${vb}`);
      if (typeof a !== 'string' && typeof b !== 'string' && Buffer.compare(a, b) !== 0) throw new Error('native and twin opened different plaintexts');
      const hex = hexOf(datagram);
      const original = sealed.get(hex);
      if (typeof a !== 'string') {
        if (!original) throw new Error('accepted a datagram the sender never sealed (forgery)');
        if (Buffer.compare(a, original) !== 0) throw new Error('accepted plaintext differs from the sealed packet');
        if (accepted.has(hex)) throw new Error('accepted the same datagram twice (replay)');
        accepted.add(hex);
      } else if (original && from === 'peer' && !accepted.has(hex) && va !== 'link_replay') {
        throw new Error(`refused a first-time valid datagram: ${va}`);
      }
      return va;
    },
    toJson: (i) => ({ from: i.from, datagram: hexOf(i.datagram) }),
    fromJson: (j) => {
      const o = j as { from?: unknown; datagram?: unknown };
      if (o?.from !== 'peer' && o?.from !== 'stranger') throw new RangeError('from must be "peer" or "stranger"');
      if (typeof o.datagram !== 'string' || !/^([0-9a-f]{2})*$/.test(o.datagram)) throw new RangeError('datagram must be hex');
      return { from: o.from, datagram: Uint8Array.from(Buffer.from(o.datagram, 'hex')) };
    },
  };
}
