/**
 * The one place that knows packet lengths (docs/packet-format.md §1).
 *
 * A network is configured by three numbers — maximum hops r, address length A and content length C — and
 * every other length of format version 1 is a constant or derived from them here. No other module may hold
 * a length literal: it asks a Geometry.
 */

import { LoopixError } from './errors.js';

/** Largest UDP payload on a 1500-byte-MTU IPv4 path: 1500 − 20 (IP) − 8 (UDP). */
export const UDP_PAYLOAD_LIMIT_MTU1500 = 1472;
/** Largest UDP payload at all (IPv4): 65,535 − 20 (IP header) − 8 (UDP header). One packet is one datagram. */
export const UDP_PAYLOAD_LIMIT = 65_507;

/**
 * Lengths of format version 1 that do not depend on r, A or C (docs/packet-format.md §1). native/format.h
 * holds the same numbers for the C++ code; test/format-parity.test.ts compares the two through the addon.
 */
export const FORMAT = Object.freeze({
  version: 1,
  /** P: version (1), reserved (1), key epoch (uint16 big-endian). */
  prefixBytes: 4,
  /** Offset of the key epoch inside the prefix (§2). */
  epochOffset: 2,
  /** The prefix carries the key epoch mod 2^16. */
  maxPrefixEpoch: 0xffff,
  /** G: an X25519 group element (α). */
  groupBytes: 32,
  /** M: a truncated HMAC-SHA256 (γ). */
  macBytes: 16,
  commandBytes: 1,
  /** Per-hop delay, µs, uint32 big-endian in the routing information. */
  delayBytes: 4,
  /** Z: the zero prefix of the payload checked at the last hop. */
  integrityBytes: 16,
  /** T: the replay tag an unwrap returns. */
  replayTagBytes: 32,
  lionessKeyBytes: 128,
  /** LIONESS needs a left part of one SHA-256 output plus at least one byte. */
  lionessMinBlockBytes: 33,
  surbKeyBytes: 32,
  seedBytes: 32,
  /** X25519 private and public keys. */
  keyBytes: 32,
  /** AES-128-CTR key and initial counter block. */
  aesKeyBytes: 16,
  aesIvBytes: 16,
  /** A full HMAC-SHA256 / SHA-256 output. */
  sha256Bytes: 32,
  /** HKDF-SHA256 output limit (RFC 5869: 255 · HashLen). */
  hkdfMaxBytes: 255 * 32,
  /** Node ↔ node link (§11): header = link epoch (uint32) + sequence number (uint64), the AES-128-GCM nonce. */
  linkHeaderBytes: 12,
  /** AES-128-GCM tag of a link datagram. */
  linkTagBytes: 16,
  /** AES-128 key of one directed link and epoch. */
  linkKeyBytes: 16,
} as const);

/** Ranges a geometry's free parameters must lie in (both implementations check the same ones). */
export const GEOMETRY_LIMITS = Object.freeze({
  maxHops: { min: 1, max: 32 },
  addressBytes: { min: 8, max: 64 },
  contentBytes: { min: 32, max: 65000 },
} as const);

/** Offsets inside one hop's routing information t = command || delay || address (§2). */
export const ROUTING = Object.freeze({
  command: 0,
  delay: FORMAT.commandBytes,
  address: FORMAT.commandBytes + FORMAT.delayBytes,
} as const);

/**
 * Offsets inside one batch-unwrap result record (§9), little-endian: kind, invalid reason, two zero bytes,
 * delay (uint32), then the address (A bytes) and the replay tag (T bytes). native/format.h mirrors this.
 */
export const RECORD = Object.freeze({
  kind: 0,
  reason: 1,
  delay: 4,
  address: 8,
} as const);

/**
 * Record reason byte a node's crypto worker writes for a packet whose key epoch had no live key when the
 * worker got to it (kind stays invalid; counted as key_expired). Outside the unwrap's own reasons on purpose.
 */
export const RECORD_NO_KEY_REASON = 0xfe;

/** The largest record of any valid geometry. */
export const MAX_RECORD_BYTES = RECORD.address + GEOMETRY_LIMITS.addressBytes.max + FORMAT.replayTagBytes;

/**
 * Bytes of a replay tag a node's replay filter hashes and logs: the first half of the 32-byte tag, which is
 * uniformly random HKDF output, so 128 bits keep collisions negligible and halve the log.
 */
export const REPLAY_FILTER_TAG_BYTES = 16;

/** Field lengths of the client ↔ provider WebSocket frames (src/protocol/frames.ts, docs/pipeline.md). */
export const CLIENT_FRAME = Object.freeze({
  /** The provider's challenge nonce. */
  nonceBytes: 32,
  /** A PULL's request id (uint32 big-endian). */
  requestIdBytes: 4,
  /** The authentication proof: a full HMAC-SHA256. */
  proofBytes: FORMAT.sha256Bytes,
  /** ChaCha20-Poly1305 tag of every link record (RFC 8439). */
  linkTagBytes: 16,
  /** ChaCha20-Poly1305 nonce: 4 zero bytes || the 64-bit record counter. */
  linkNonceBytes: 12,
  /** The client's static key as sealed inside AUTH: key + tag. */
  sealedKeyBytes: FORMAT.keyBytes + 16,
  /** Longest ERROR message (UTF-8 bytes) a link record carries. */
  maxErrorBytes: 200,
} as const);

/** The free parameters of a network's packet geometry. */
export interface GeometryParams {
  /** r: routing slots in the header (provider, mixes, provider, recipient). */
  readonly maxHops: number;
  /** A: bytes of a node id, client id, message id or SURB id. */
  readonly addressBytes: number;
  /** C: application bytes one packet carries (AnonPoP's envelope is 1 KiB). */
  readonly contentBytes: number;
}

export const DEFAULT_GEOMETRY_PARAMS: GeometryParams = Object.freeze({
  maxHops: 6,
  addressBytes: 16,
  contentBytes: 1024,
});

export interface Geometry extends GeometryParams {
  readonly version: 1;
  readonly prefixBytes: 4;
  readonly groupBytes: 32;
  readonly macBytes: 16;
  readonly commandBytes: 1;
  readonly delayBytes: 4;
  readonly integrityBytes: 16;
  readonly replayTagBytes: 32;
  readonly lionessKeyBytes: 128;
  readonly surbKeyBytes: 32;
  readonly seedBytes: 32;
  readonly privateKeyBytes: 32;
  readonly publicKeyBytes: 32;
  /** t = command + delay + address. */
  readonly routingBytes: number;
  /** s = t + MAC: one hop's share of beta. */
  readonly slotBytes: number;
  /** L = r · s. */
  readonly betaBytes: number;
  /** H = prefix + α + beta + γ. */
  readonly headerBytes: number;
  /** Y = zero prefix + content: the LIONESS block. */
  readonly payloadBytes: number;
  /** N = H + Y: every packet on every link has exactly this size. */
  readonly packetBytes: number;
  /** first hop + header + SURB key. */
  readonly surbBytes: number;
  /** One batch-unwrap result record (docs/packet-format.md §9). */
  readonly recordBytes: number;
  /** Offsets inside a packet. */
  readonly offsets: Readonly<{ alpha: number; beta: number; gamma: number; payload: number }>;
  /** Node ↔ node link header: link epoch (uint32) + sequence number (uint64); also the AEAD nonce. */
  readonly linkHeaderBytes: 12;
  /** Node ↔ node link AEAD tag (AES-128-GCM). */
  readonly linkTagBytes: 16;
  /** Link header + tag: what the link layer adds to every packet on a node ↔ node link. */
  readonly linkOverheadBytes: number;
  /** One node ↔ node UDP datagram: link header + sealed packet + tag (docs/packet-format.md "Link layer"). */
  readonly datagramBytes: number;
  /** Whether one datagram (packet + link overhead) fits a single UDP datagram on a 1500-byte-MTU path. */
  readonly fitsUdpMtu1500: boolean;
}

function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`geometry.${name} must be an integer, got ${String(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`geometry.${name} must be in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** Builds (and validates) a frozen geometry; throws a RangeError/TypeError naming the field. */
export function makeGeometry(params: Partial<GeometryParams> = {}): Geometry {
  const p = { ...DEFAULT_GEOMETRY_PARAMS, ...params };
  const L = GEOMETRY_LIMITS;
  const maxHops = checkInt('maxHops', p.maxHops, L.maxHops.min, L.maxHops.max);
  const addressBytes = checkInt('addressBytes', p.addressBytes, L.addressBytes.min, L.addressBytes.max);
  const contentBytes = checkInt('contentBytes', p.contentBytes, L.contentBytes.min, L.contentBytes.max);
  const { prefixBytes, groupBytes, macBytes, commandBytes, delayBytes, integrityBytes, replayTagBytes } = FORMAT;
  const routingBytes = commandBytes + delayBytes + addressBytes;
  const slotBytes = routingBytes + macBytes;
  const betaBytes = maxHops * slotBytes;
  const headerBytes = prefixBytes + groupBytes + betaBytes + macBytes;
  const payloadBytes = integrityBytes + contentBytes;
  const packetBytes = headerBytes + payloadBytes;
  const linkHeaderBytes = FORMAT.linkHeaderBytes,
    linkTagBytes = FORMAT.linkTagBytes;
  const linkOverheadBytes = linkHeaderBytes + linkTagBytes;
  const datagramBytes = packetBytes + linkOverheadBytes;
  // Nodes send one packet per UDP datagram (docs/packet-format.md §1): a larger datagram could never be sent.
  if (datagramBytes > UDP_PAYLOAD_LIMIT) {
    throw new LoopixError(
      'ERR_LOOPIX_GEOMETRY_TOO_LARGE',
      `geometry: a packet of maxHops ${maxHops}, addressBytes ${addressBytes}, contentBytes ${contentBytes} is ${packetBytes} bytes, ${datagramBytes} with the node link's ${linkOverheadBytes}-byte framing: more than the ${UDP_PAYLOAD_LIMIT} bytes one UDP datagram can carry`,
      { field: 'geometry' },
    );
  }
  return Object.freeze({
    version: 1,
    maxHops,
    addressBytes,
    contentBytes,
    prefixBytes,
    groupBytes,
    macBytes,
    commandBytes,
    delayBytes,
    integrityBytes,
    replayTagBytes,
    lionessKeyBytes: FORMAT.lionessKeyBytes,
    surbKeyBytes: FORMAT.surbKeyBytes,
    seedBytes: FORMAT.seedBytes,
    privateKeyBytes: FORMAT.keyBytes,
    publicKeyBytes: FORMAT.keyBytes,
    routingBytes,
    slotBytes,
    betaBytes,
    headerBytes,
    payloadBytes,
    packetBytes,
    surbBytes: addressBytes + headerBytes + FORMAT.surbKeyBytes,
    recordBytes: RECORD.address + addressBytes + replayTagBytes,
    offsets: Object.freeze({
      alpha: prefixBytes,
      beta: prefixBytes + groupBytes,
      gamma: prefixBytes + groupBytes + betaBytes,
      payload: headerBytes,
    }),
    linkHeaderBytes,
    linkTagBytes,
    linkOverheadBytes,
    datagramBytes,
    fitsUdpMtu1500: datagramBytes <= UDP_PAYLOAD_LIMIT_MTU1500,
  } as const);
}

/** The default network geometry: 6 hops, 16-byte addresses, 1 KiB content, 1314-byte packets, 1342-byte datagrams. */
export const DEFAULT_GEOMETRY: Geometry = makeGeometry();

/**
 * Post office (docs/packet-format.md "Post office requests"; AnonPoP §4): the fixed field lengths of the
 * requests a post office serves. src/postoffice/wire.ts derives the rest from a Geometry.
 */
export const POST_OFFICE = Object.freeze({
  /** Request operation (PUSH / PULL), the first content byte of a request. */
  opBytes: 1,
  /** A mailbox id: HKDF-SHA256 output of the mailbox secret and the mailbox epoch (AnonPoP §6.2). */
  mailboxIdBytes: 16,
  /** The mailbox secret an anonymous address carries. */
  mailboxSecretBytes: 32,
  /** A mailbox epoch number inside the HKDF info (uint64 big-endian). */
  epochBytes: 8,
  /** ChaCha20-Poly1305 key, nonce and tag of the end-to-end envelope (RFC 8439). */
  envelopeKeyBytes: 32,
  envelopeNonceBytes: 12,
  envelopeTagBytes: 16,
  /** Inside the sealed envelope: message id, send time (uint64 ms, big-endian), message length (uint16). */
  messageIdBytes: 16,
  sentAtBytes: 8,
  lengthBytes: 2,
} as const);
