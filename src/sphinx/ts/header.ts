/**
 * The Sphinx header (docs/packet-format.md §2, §4 steps 3–4, §5.2): prefix and routing encoding, the filler,
 * the layered construction of beta and gamma, and the per-hop MAC check and beta decryption.
 *
 * Why a module of its own: the header is where the format's length arithmetic lives (slots, filler, padding);
 * everything here takes its lengths from the Geometry.
 */
import type { Geometry } from '../../geometry.js';
import type { HopSpec } from '../types.js';
import type { HeaderKeys } from './keys.js';
import { AES_BLOCK_BYTES, aes128CtrStream, constantTimeEqual, hmacSha256Parts, wipe, xorInto } from './primitives.js';

/** The header stream and the padding stream start from an all-zero counter block. */
const ZERO_COUNTER = new Uint8Array(AES_BLOCK_BYTES);

/** Offsets inside one routing slot: command (1) || delay_us (uint32 BE) || address (A). */
function routingOffsets(g: Geometry): { delay: number; address: number } {
  return { delay: g.commandBytes, address: g.commandBytes + g.delayBytes };
}

/** Offsets inside the prefix: version (1) || reserved (1) || epoch (uint16 big-endian). */
export const PREFIX = Object.freeze({ version: 0, reserved: 1, epoch: 2 });
/** The value of the reserved prefix byte in version 1. */
export const RESERVED = 0;

/** prefix = version || reserved 0 || epoch (uint16 big-endian). */
export function encodePrefix(g: Geometry, epoch: number): Uint8Array {
  const prefix = new Uint8Array(g.prefixBytes);
  const view = new DataView(prefix.buffer);
  view.setUint8(PREFIX.version, g.version);
  view.setUint8(PREFIX.reserved, RESERVED);
  view.setUint16(PREFIX.epoch, epoch, false);
  return prefix;
}

/** routing = command || delay_us (uint32 big-endian) || address, written at the start of `out`. */
export function encodeRouting(g: Geometry, hop: HopSpec, out: Uint8Array): void {
  const at = routingOffsets(g);
  out[0] = hop.command;
  new DataView(out.buffer, out.byteOffset, g.routingBytes).setUint32(at.delay, hop.delayUs, false);
  out.set(hop.address, at.address);
}

/** The decoded routing information of one hop. */
export interface Routing {
  readonly command: number;
  readonly delayUs: number;
  /** A view into the caller's buffer. */
  readonly address: Uint8Array;
}

export function decodeRouting(g: Geometry, routing: Uint8Array): Routing {
  const at = routingOffsets(g);
  return {
    command: routing[0]!,
    delayUs: new DataView(routing.buffer, routing.byteOffset, g.routingBytes).getUint32(at.delay, false),
    address: routing.subarray(at.address, at.address + g.addressBytes),
  };
}

/** stream(rho): the header key stream, L + s bytes of AES-128-CTR(rho) from counter 0. */
export function headerStream(g: Geometry, rho: Uint8Array): Uint8Array {
  return aes128CtrStream(rho, ZERO_COUNTER, g.betaBytes + g.slotBytes);
}

/** gamma = HMAC-SHA256(mu, prefix || beta)[0..M). */
export function headerMac(g: Geometry, mu: Uint8Array, prefix: Uint8Array, beta: Uint8Array): Uint8Array {
  const full = hmacSha256Parts(mu, prefix, beta);
  const gamma = full.slice(0, g.macBytes);
  wipe(full);
  return gamma;
}

/**
 * Writes beta_0 and gamma_0 of a ν-hop header (§5.2) into `beta` (L bytes) and `gamma` (M bytes).
 *
 * @param keys      rho_i and mu_i of every hop, i = 0 .. ν−1
 * @param hops      routing_i of every hop
 * @param padKey    key of the padding stream that fills the unused (r − ν) slots
 */
export function buildHeader(
  g: Geometry,
  prefix: Uint8Array,
  keys: readonly HeaderKeys[],
  hops: readonly HopSpec[],
  padKey: Uint8Array,
  beta: Uint8Array,
  gamma: Uint8Array,
): void {
  const nu = hops.length;
  const s = g.slotBytes,
    L = g.betaBytes,
    t = g.routingBytes;
  const streams = keys.map((k) => headerStream(g, k.rho));
  try {
    // 1. Filler: φ_i = (φ_{i−1} || 0^s) XOR stream_{i−1}[L + s − i·s .. L + s), i = 1 .. ν−1.
    const phi = new Uint8Array((nu - 1) * s);
    for (let i = 1; i < nu; i++) {
      const tail = streams[i - 1]!.subarray(L + s - i * s, L + s);
      xorInto(phi.subarray(0, i * s), tail);
    }

    // 2. Last hop: beta_{ν−1} = ((routing_{ν−1} || 0^M || pad) XOR stream_{ν−1}[0 .. (r−ν+1)·s)) || φ_{ν−1}.
    const open = (g.maxHops - nu + 1) * s;
    beta.fill(0);
    encodeRouting(g, hops[nu - 1]!, beta);
    const pad = aes128CtrStream(padKey, ZERO_COUNTER, (g.maxHops - nu) * s);
    beta.set(pad, s);
    xorInto(beta.subarray(0, open), streams[nu - 1]!.subarray(0, open));
    beta.set(phi, open);
    let mac = headerMac(g, keys[nu - 1]!.mu, prefix, beta);

    // 3. i = ν−2 .. 0: beta_i = (routing_i || gamma_{i+1} || beta_{i+1}[0 .. L − s)) XOR stream_i[0 .. L).
    for (let i = nu - 2; i >= 0; i--) {
      beta.copyWithin(s, 0, L - s);
      encodeRouting(g, hops[i]!, beta);
      beta.set(mac, t);
      xorInto(beta, streams[i]!.subarray(0, L));
      mac = headerMac(g, keys[i]!.mu, prefix, beta);
    }
    gamma.set(mac);
  } finally {
    wipe(...streams);
  }
}

/** §4 step 3: whether gamma == HMAC(mu, prefix || beta)[0..M), compared in constant time. */
export function verifyHeaderMac(g: Geometry, mu: Uint8Array, packet: Uint8Array): boolean {
  const { beta, gamma } = g.offsets;
  const expected = headerMac(g, mu, packet.subarray(0, g.prefixBytes), packet.subarray(beta, gamma));
  const ok = constantTimeEqual(expected, packet.subarray(gamma, gamma + g.macBytes));
  wipe(expected);
  return ok;
}

/**
 * §4 step 4: B = (beta || 0^s) XOR stream(rho), L + s bytes: routing = B[0..t), gamma' = B[t..s),
 * beta' = B[s..s+L). The caller wipes B.
 */
export function peelHeader(g: Geometry, rho: Uint8Array, packet: Uint8Array): Uint8Array {
  const B = headerStream(g, rho);
  xorInto(B, packet.subarray(g.offsets.beta, g.offsets.gamma));
  return B;
}
