/**
 * The contract both Sphinx implementations (native addon, TypeScript twin) keep, byte for byte.
 * Normative description: docs/packet-format.md. Results are tagged unions in the style of nymtech/sphinx
 * (`relay | deliver | drop | final | loop | surbReply | invalid`).
 */
import type { Geometry } from '../geometry.js';

/** Routing commands (docs/packet-format.md §2). */
export const Command = Object.freeze({
  RELAY: 0x01,
  DELIVER: 0x02,
  DROP: 0x03,
  FINAL: 0x04,
  LOOP: 0x05,
  SURB_REPLY: 0x06,
} as const);
export type CommandCode = (typeof Command)[keyof typeof Command];

/** Record `kind` codes of a batch unwrap (docs/packet-format.md §9). */
export const ResultKind = Object.freeze({
  invalid: 0,
  relay: 1,
  deliver: 2,
  drop: 3,
  final: 4,
  loop: 5,
  surbReply: 6,
} as const);
export type ResultKindName = keyof typeof ResultKind;

/** Why a packet was rejected; record `reason` codes are the index + 1 of this list. */
export const INVALID_REASONS = ['length', 'version', 'point', 'mac', 'command', 'integrity'] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

/** The largest delay a header can carry: 2^32 − 1 µs (71.6 minutes). */
export const MAX_DELAY_US = 0xffff_ffff;

/** One hop of a path as the sender sees it. */
export interface HopSpec {
  /** The hop's X25519 public key for the packet's epoch (32 bytes). */
  readonly publicKey: Uint8Array;
  /** What the hop is told to do next. */
  readonly command: CommandCode;
  /** Next node id / client id / message, loop or SURB id (A bytes; all-zero for DROP). */
  readonly address: Uint8Array;
  /** Hold time at this hop in microseconds, an integer in [0, 2^32 − 1] (0 for final commands). */
  readonly delayUs: number;
}

export interface PacketSpec {
  /** Key epoch (uint16) of every hop's key. */
  readonly epoch: number;
  /** 1 ≤ hops.length ≤ geometry.maxHops. */
  readonly hops: readonly HopSpec[];
  /** At most geometry.contentBytes application bytes; zero-padded to contentBytes. */
  readonly content: Uint8Array;
  /** 32 bytes from which all of the packet's randomness is derived; random when omitted. */
  readonly seed?: Uint8Array;
}

export interface SurbSpec {
  readonly epoch: number;
  /** The reply path; the last hop must be the creator with command SURB_REPLY and address = SURB id. */
  readonly hops: readonly HopSpec[];
  /** Address of hops[0], to which the replier sends the reply packet. */
  readonly firstHop: Uint8Array;
  readonly seed?: Uint8Array;
}

export interface Surb {
  /** What the replier gets: firstHop || header || surbKey (geometry.surbBytes). */
  readonly surb: Uint8Array;
  /** What the creator keeps: (hops + 1) LIONESS keys of 128 bytes; wipe after use. */
  readonly decryptionKeys: Uint8Array;
}

export type UnwrapResult =
  | { readonly kind: 'relay'; readonly next: Uint8Array; readonly delayUs: number; readonly replayTag: Uint8Array }
  | { readonly kind: 'deliver'; readonly client: Uint8Array; readonly delayUs: number; readonly replayTag: Uint8Array }
  | { readonly kind: 'drop'; readonly replayTag: Uint8Array }
  | { readonly kind: 'final'; readonly id: Uint8Array; readonly content: Uint8Array; readonly replayTag: Uint8Array }
  | { readonly kind: 'loop'; readonly id: Uint8Array; readonly content: Uint8Array; readonly replayTag: Uint8Array }
  | {
      readonly kind: 'surbReply';
      readonly id: Uint8Array;
      readonly payload: Uint8Array;
      readonly replayTag: Uint8Array;
    }
  | { readonly kind: 'invalid'; readonly reason: InvalidReason };

/**
 * Everything a node, client or benchmark needs from a Sphinx implementation.
 *
 * Argument errors (a key of the wrong length, a content longer than the geometry allows, an epoch out of
 * range) throw a TypeError or RangeError naming the argument and the expected length. Packet-path calls
 * (`unwrap`, `unwrapBatch`, `openSurbReply`) never throw on packet contents: a malformed or tampered packet is
 * an `invalid` result.
 */
export interface SphinxBackend {
  readonly name: 'native' | 'ts';

  // Primitives (exposed for known-answer tests and cross-checks).
  // `this: void`: backends are plain objects of closures, so a method may be passed on detached (x25519 as a key function).
  x25519(this: void, scalar: Uint8Array, point: Uint8Array): Uint8Array;
  x25519Base(scalar: Uint8Array): Uint8Array;
  aes128Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  lionessEncrypt(key: Uint8Array, block: Uint8Array): Uint8Array;
  lionessDecrypt(key: Uint8Array, block: Uint8Array): Uint8Array;

  // Packets.
  createPacket(g: Geometry, spec: PacketSpec): Uint8Array;
  /** Unwraps one hop in place: on relay/deliver `packet` becomes the next hop's packet. */
  unwrap(g: Geometry, privateKey: Uint8Array, packet: Uint8Array): UnwrapResult;
  /**
   * Unwraps `packets.length / g.packetBytes` packets in place and writes one g.recordBytes record per
   * packet into `records`; returns the number of packets processed.
   */
  unwrapBatch(g: Geometry, privateKey: Uint8Array, packets: Uint8Array, records: Uint8Array): number;
  createSurb(g: Geometry, spec: SurbSpec): Surb;
  /** Builds the reply packet from a SURB; returns the first hop's address and the packet. */
  createSurbReply(g: Geometry, surb: Uint8Array, content: Uint8Array): { firstHop: Uint8Array; packet: Uint8Array };
  /** Recovers the content of a SURB reply from the creator's unwrap payload; null when it fails integrity. */
  openSurbReply(g: Geometry, decryptionKeys: Uint8Array, payload: Uint8Array): Uint8Array | null;
}
