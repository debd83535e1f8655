/**
 * Link-framing target (src/node/link): datagrams arriving at a mix from the provider before it — valid
 * seals, mutated seals (a bit flip anywhere, in the header or in the tag; the header's epoch or sequence
 * number rewritten; truncation at every field boundary; extension), seals sent again (replays), seals older
 * than the replay window, and random bytes — opened by two receivers at once, one with the native
 * AES-128-GCM and one with the TypeScript twin, each with its own replay windows. Each input names the class
 * it was generated in (`kind`), so a test can check that every class is reached and ends as it must.
 *
 * A crash: a throw from `open`; the two receivers disagreeing (verdict or plaintext); a datagram that
 * differs from every seal the sender made being accepted (a forgery); an untouched, first-time seal being
 * refused while its sequence number is inside the window, or accepted while it is older than the window;
 * an accepted datagram whose plaintext is not the sealed packet.
 */
import type { Geometry } from '../geometry.js';
import { makeGeometry } from '../geometry.js';
import { nativeLinkCipher, tsLinkCipher, WINDOW_BITS, type LinkCipher } from '../node/link/index.js';
import { linkLayerChain } from '../node/link/layer-chain.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { FuzzTarget } from './harness.js';
import { hexOf, type Rng } from './rng.js';

const g: Geometry = makeGeometry();
const EPOCH = 9;
/** Seals the oracle remembers (hex → packet), ≈ 4 MB. */
const MAX_SEALS = 1500;

/** How an input was made (the generator's classes; a corpus file without one replays as 'unknown'). */
export const LINK_INPUT_KINDS = [
  'random',
  'fresh',
  'resend',
  'stale',
  'flip',
  'header-flip',
  'tag-flip',
  'epoch',
  'sequence',
  'truncate',
  'extend',
  'unknown',
] as const;
export type LinkInputKind = (typeof LINK_INPUT_KINDS)[number];

export interface LinkInput {
  /** Where the datagram comes from: the adjacent provider, or an address that is no node. */
  readonly from: 'peer' | 'stranger';
  readonly datagram: Uint8Array;
  readonly kind: LinkInputKind;
}

/** Header fields (docs/packet-format.md "Link layer"): epoch uint32, then the sequence number as two uint32. */
const EPOCH_AT = 0;
const SEQ_AT = 4;
/** A number at least this far below the highest accepted is refused as too old (src/node/link/window.ts). */
const TOO_OLD = BigInt(WINDOW_BITS - 32);
const seqOf = (d: Uint8Array): bigint => Buffer.from(d.buffer, d.byteOffset, d.length).readBigUInt64BE(SEQ_AT);

export function linkTarget(backend: SphinxBackend, rng: Rng): FuzzTarget<LinkInput> {
  // Fresh keys per run: a corpus datagram sealed in an earlier run is then a forgery to this run's
  // receivers (and must be refused), never a valid seal the oracle does not know about.
  const { nodes, layer: chainLayer } = linkLayerChain({
    geometry: g,
    epoch: EPOCH,
    basePort: 1001,
    mixes: 1,
    x25519Base: (sk) => backend.x25519Base(sk),
    x25519: (a, b) => backend.x25519(a, b),
  });
  const layer = (self: number, cipher: LinkCipher) => chainLayer(self, { cipher });
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
  // Seals made first and then left behind by more than the window: the sender moves on by WINDOW_BITS
  // datagrams it never sends, so once anything newer was accepted these are too old to be accepted.
  const stale: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) stale.push(seal(rng));
  const skipped = new Uint8Array(g.packetBytes);
  for (let i = 0; i < WINDOW_BITS; i++) sender.seal(skipped, nodes[1]!.udp);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) pool.push(seal(rng));
  /** Highest sequence number the receivers accepted so far (undefined: none yet). */
  let top: bigint | undefined;

  const H = g.linkHeaderBytes;
  const mutate = (r: Rng, base: Uint8Array): Omit<LinkInput, 'from'> => {
    const d = base.slice();
    const view = Buffer.from(d.buffer, d.byteOffset, d.length);
    switch (r.int(8)) {
      case 0:
        d[r.int(d.length)]! ^= 1 << r.int(8);
        return { kind: 'flip', datagram: d };
      case 1:
        d[r.int(H)]! ^= 1 << r.int(8); // epoch or sequence number
        return { kind: 'header-flip', datagram: d };
      case 2:
        d[d.length - 1 - r.int(g.linkTagBytes)]! ^= 1 << r.int(8); // tag
        return { kind: 'tag-flip', datagram: d };
      case 3: {
        // Another epoch: one the receiver has keys for on either side, none at all, or garbage.
        const other = r.pick([EPOCH - 1, EPOCH + 1, 0, 0xffffffff, r.int(0x7fffffff)].filter((e) => e !== EPOCH));
        view.writeUInt32BE(other, EPOCH_AT);
        return { kind: 'epoch', datagram: d };
      }
      case 4: {
        // Another sequence number: a tag over the header refuses it, whatever the window would say.
        const now = view.readBigUInt64BE(SEQ_AT);
        const next = r.pick(
          [0n, 1n, now + 1n, now - 1n, (1n << 64n) - 1n, 1n << 63n, BigInt(r.int(0x7fffffff))].filter(
            (v) => v !== now && v >= 0n && v < 1n << 64n,
          ),
        );
        view.writeBigUInt64BE(next, SEQ_AT);
        return { kind: 'sequence', datagram: d };
      }
      case 5: {
        // Cut at a field boundary (nothing, mid-header, header only, no tag, one byte short) or anywhere.
        const at = r.pick([0, 1, H - 1, H, H + g.packetBytes, d.length - 1, r.int(d.length)]);
        return { kind: 'truncate', datagram: d.subarray(0, at) };
      }
      case 6: {
        const longer = new Uint8Array(d.length + 1 + r.int(64));
        longer.set(d);
        return { kind: 'extend', datagram: longer };
      }
      default:
        return { kind: 'resend', datagram: d }; // as sealed (first time: accepted; again: a replay)
    }
  };

  return {
    name: 'link-open',
    share: 0.03,
    generate: (r): LinkInput => {
      const from = r.chance(0.1) ? 'stranger' : 'peer';
      const kind = r.int(12);
      if (kind === 0)
        return {
          from,
          kind: 'random',
          datagram: r.bytes(r.chance(0.5) ? g.datagramBytes : r.int(2 * g.datagramBytes)),
        };
      if (kind <= 2) return { from, kind: 'fresh', datagram: seal(r) };
      if (kind === 3) return { from, kind: 'stale', datagram: r.pick(stale).slice() };
      return { from, ...mutate(r, r.pick(pool)) };
    },
    check: ({ from, datagram }) => {
      const host = '127.0.0.1';
      const port = from === 'peer' ? nodes[0]!.udp.port : 9;
      const a = rxNative.open(datagram.slice(), host, port);
      const b = rxTs.open(datagram.slice(), host, port);
      const va = typeof a === 'string' ? a : 'ok';
      const vb = typeof b === 'string' ? b : 'ok';
      if (va !== vb) throw new Error(`native says ${va}, twin says ${vb}`);
      if (typeof a !== 'string' && typeof b !== 'string' && Buffer.compare(a, b) !== 0)
        throw new Error('native and twin opened different plaintexts');
      const hex = hexOf(datagram);
      const original = sealed.get(hex);
      // A first-time seal from the peer is accepted exactly when its number is not too far below the highest.
      const tooOld = original !== undefined && top !== undefined && top - seqOf(datagram) >= TOO_OLD;
      if (typeof a !== 'string') {
        if (!original) throw new Error('accepted a datagram the sender never sealed (forgery)');
        if (Buffer.compare(a, original) !== 0) throw new Error('accepted plaintext differs from the sealed packet');
        if (accepted.has(hex)) throw new Error('accepted the same datagram twice (replay)');
        if (tooOld) throw new Error(`accepted sequence number ${seqOf(datagram)}, older than the window below ${top}`);
        accepted.add(hex);
        const seq = seqOf(datagram);
        if (top === undefined || seq > top) top = seq;
      } else if (original && from === 'peer' && !accepted.has(hex)) {
        if (!tooOld) throw new Error(`refused a first-time valid datagram inside the window: ${va}`);
        if (va !== 'link_replay') throw new Error(`refused a datagram older than the window as ${va}, not link_replay`);
      }
      return va;
    },
    toJson: (i) => ({ from: i.from, kind: i.kind, datagram: hexOf(i.datagram) }),
    fromJson: (j) => {
      const o = j as { from?: unknown; datagram?: unknown; kind?: unknown };
      if (o?.from !== 'peer' && o?.from !== 'stranger') throw new RangeError('from must be "peer" or "stranger"');
      if (typeof o.datagram !== 'string' || !/^([0-9a-f]{2})*$/.test(o.datagram))
        throw new RangeError('datagram must be hex');
      const kind = (LINK_INPUT_KINDS as readonly unknown[]).includes(o.kind) ? (o.kind as LinkInputKind) : 'unknown';
      return { from: o.from, kind, datagram: Uint8Array.from(Buffer.from(o.datagram, 'hex')) };
    },
  };
}
