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
  /** Whether one packet fits a single UDP datagram on a 1500-byte-MTU path. */
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
  const maxHops = checkInt('maxHops', p.maxHops, 1, 32);
  const addressBytes = checkInt('addressBytes', p.addressBytes, 8, 64);
  const contentBytes = checkInt('contentBytes', p.contentBytes, 32, 65000);
  const prefixBytes = 4, groupBytes = 32, macBytes = 16, commandBytes = 1, delayBytes = 4;
  const integrityBytes = 16, replayTagBytes = 32;
  const routingBytes = commandBytes + delayBytes + addressBytes;
  const slotBytes = routingBytes + macBytes;
  const betaBytes = maxHops * slotBytes;
  const headerBytes = prefixBytes + groupBytes + betaBytes + macBytes;
  const payloadBytes = integrityBytes + contentBytes;
  const packetBytes = headerBytes + payloadBytes;
  // Nodes send one packet per UDP datagram (docs/packet-format.md §1): a larger packet could never be sent.
  if (packetBytes > UDP_PAYLOAD_LIMIT) {
    throw new LoopixError(
      'ERR_LOOPIX_GEOMETRY_TOO_LARGE',
      `geometry: a packet of maxHops ${maxHops}, addressBytes ${addressBytes}, contentBytes ${contentBytes} is ${packetBytes} bytes, more than the ${UDP_PAYLOAD_LIMIT} bytes one UDP datagram can carry`,
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
    lionessKeyBytes: 128,
    surbKeyBytes: 32,
    seedBytes: 32,
    privateKeyBytes: 32,
    publicKeyBytes: 32,
    routingBytes,
    slotBytes,
    betaBytes,
    headerBytes,
    payloadBytes,
    packetBytes,
    surbBytes: addressBytes + headerBytes + 32,
    recordBytes: 8 + addressBytes + replayTagBytes,
    offsets: Object.freeze({
      alpha: prefixBytes,
      beta: prefixBytes + groupBytes,
      gamma: prefixBytes + groupBytes + betaBytes,
      payload: headerBytes,
    }),
    fitsUdpMtu1500: packetBytes <= UDP_PAYLOAD_LIMIT_MTU1500,
  } as const);
}

/** The default network geometry: 6 hops, 16-byte addresses, 1 KiB content, 1314-byte packets. */
export const DEFAULT_GEOMETRY: Geometry = makeGeometry();
