/**
 * Creating a packet (docs/packet-format.md §5) and unwrapping one hop of it (§4, §9).
 *
 * Why: this is the orchestration layer — it owns the order of the steps and the wiping of every secret,
 * while the arithmetic lives in keys/scalar/path/header/lioness.
 */
import type { Geometry } from '../../geometry.js';
import { encodeRecord } from '../records.js';
import { Command, type HopSpec, type InvalidReason, type PacketSpec, type UnwrapResult } from '../types.js';
import { buildHeader, decodeRouting, encodePrefix, peelHeader, PREFIX, RESERVED, verifyHeaderMac } from './header.js';
import { headerKeys, hopPrk, payloadKeys, replayTag, seedKeys, type SeedKeys } from './keys.js';
import { lionessDecryptInPlace, lionessEncryptInPlace } from './lioness.js';
import { derivePathSecrets, UnliftableScalarError, type HopSecrets } from './path.js';
import { checkBytes, checkLength, isAllZero, wipe, x25519Unchecked } from './primitives.js';
import {
  checkContent,
  checkEpoch,
  checkGeometry,
  checkHops,
  checkSeed,
  checkSpec,
  isCommand,
  randomSeed,
} from './spec.js';

// ---------------------------------------------------------------------------------------------------------
// Creation (§5).

/**
 * Runs `create` with the caller's seed, or with fresh random seeds until one is liftable (a failure has
 * probability ≈ 2⁻¹²⁵; with a fixed seed the `unliftable scalar` error reaches the caller, who draws anew).
 */
export function withSeed<T>(g: Geometry, seed: Uint8Array | undefined, create: (seed: Uint8Array) => T): T {
  if (seed !== undefined) return create(seed);
  for (;;) {
    const fresh = randomSeed(g);
    try {
      return create(fresh);
    } catch (err) {
      if (!(err instanceof UnliftableScalarError)) throw err;
    } finally {
      wipe(fresh);
    }
  }
}

/**
 * Writes prefix || α_0 || beta_0 || gamma_0 into `header` (H bytes) and returns every hop's secrets
 * (the caller wipes them).
 */
export function sealHeader(
  g: Geometry,
  epoch: number,
  hops: readonly HopSpec[],
  keys: SeedKeys,
  header: Uint8Array,
): HopSecrets[] {
  const { alpha, beta, gamma } = g.offsets;
  const secrets = derivePathSecrets(g, hops, keys.x);
  const prefix = encodePrefix(g, epoch);
  header.set(prefix, 0);
  header.set(secrets[0]!.alpha, alpha);
  buildHeader(
    g,
    prefix,
    secrets,
    hops,
    keys.padKey,
    header.subarray(beta, gamma),
    header.subarray(gamma, gamma + g.macBytes),
  );
  return secrets;
}

/** Wipes every secret a path derivation produced. */
export function wipeSecrets(secrets: readonly HopSecrets[]): void {
  for (const h of secrets) wipe(h.rho, h.mu, h.pi);
}

/**
 * createPacket:
 * 1. seed keys x, padKey from the seed;
 * 2. per-hop secrets and the header (§5.1, §5.2);
 * 3. payload = LIONESS-Encrypt(pi_0, … LIONESS-Encrypt(pi_{ν−1}, 0^Z || content || 0^(C − |content|)) …) (§5.3).
 */
export function createPacket(g: Geometry, spec: PacketSpec): Uint8Array {
  checkGeometry(g);
  checkSpec(spec);
  const epoch = checkEpoch(spec.epoch);
  const hops = checkHops(g, spec.hops);
  const content = checkContent(g, spec.content);
  const seed = checkSeed(g, spec.seed);
  return withSeed(g, seed, (s) => {
    const keys = seedKeys(g, s); // 1.
    const packet = new Uint8Array(g.packetBytes);
    const secrets: HopSecrets[] = [];
    try {
      secrets.push(...sealHeader(g, epoch, hops, keys, packet.subarray(0, g.headerBytes))); // 2.
      const payload = packet.subarray(g.offsets.payload, g.packetBytes); // 3.
      payload.set(content, g.integrityBytes);
      for (let i = secrets.length - 1; i >= 0; i--) lionessEncryptInPlace(secrets[i]!.pi, payload);
      return packet;
    } finally {
      wipeSecrets(secrets);
      wipe(keys.x, keys.padKey, keys.surbKey);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Unwrapping (§4).

const INVALID: Readonly<Record<InvalidReason, UnwrapResult>> = Object.freeze({
  length: Object.freeze({ kind: 'invalid', reason: 'length' }),
  version: Object.freeze({ kind: 'invalid', reason: 'version' }),
  point: Object.freeze({ kind: 'invalid', reason: 'point' }),
  mac: Object.freeze({ kind: 'invalid', reason: 'mac' }),
  command: Object.freeze({ kind: 'invalid', reason: 'command' }),
  integrity: Object.freeze({ kind: 'invalid', reason: 'integrity' }),
});

/** Unwraps one hop in place; on relay/deliver `packet` becomes the next hop's packet. Never throws on contents. */
export function unwrap(g: Geometry, privateKey: Uint8Array, packet: Uint8Array): UnwrapResult {
  checkGeometry(g);
  checkLength('privateKey', privateKey, g.privateKeyBytes);
  checkBytes('packet', packet);
  return unwrapChecked(g, privateKey, packet);
}

/** unwrap after the argument checks: the steps of §4. */
export function unwrapChecked(g: Geometry, sk: Uint8Array, packet: Uint8Array): UnwrapResult {
  // 1. Length, version, reserved.
  if (packet.length !== g.packetBytes) return INVALID.length;
  if (packet[PREFIX.version] !== g.version || packet[PREFIX.reserved] !== RESERVED) return INVALID.version;
  const { alpha: alphaAt, beta: betaAt, payload: payloadAt } = g.offsets;
  const alpha = packet.subarray(alphaAt, betaAt);

  // 2. s = X25519(sk, α); all zero when α has small order.
  const s = x25519Unchecked(sk, alpha);
  let prk: Uint8Array | undefined, rho: Uint8Array | undefined, mu: Uint8Array | undefined;
  let pi: Uint8Array | undefined, b: Uint8Array | undefined, B: Uint8Array | undefined;
  try {
    if (isAllZero(s)) return INVALID.point;

    // 3. PRK, rho, mu; gamma == HMAC(mu, prefix || beta)[0..M).
    prk = hopPrk(alpha, s);
    ({ rho, mu } = headerKeys(prk));
    if (!verifyHeaderMac(g, mu, packet)) return INVALID.mac;

    // 4. pi, b, tag; B = (beta || 0^s) XOR stream(rho); routing = B[0..t).
    ({ pi, b } = payloadKeys(g, prk));
    const tag = replayTag(g, prk);
    B = peelHeader(g, rho, packet);
    const routing = decodeRouting(g, B);
    if (!isCommand(routing.command)) return INVALID.command;

    // 5. payload' = LIONESS-Decrypt(pi, payload), in place.
    const payload = packet.subarray(payloadAt, g.packetBytes);
    lionessDecryptInPlace(pi, payload);

    // 6. By command.
    switch (routing.command) {
      case Command.RELAY:
      case Command.DELIVER: {
        forward(g, packet, b, B);
        const address = routing.address.slice();
        return routing.command === Command.RELAY
          ? { kind: 'relay', next: address, delayUs: routing.delayUs, replayTag: tag }
          : { kind: 'deliver', client: address, delayUs: routing.delayUs, replayTag: tag };
      }
      case Command.DROP:
        return { kind: 'drop', replayTag: tag };
      case Command.FINAL:
      case Command.LOOP: {
        if (!isAllZero(payload.subarray(0, g.integrityBytes))) return INVALID.integrity;
        const id = routing.address.slice();
        const content = payload.subarray(g.integrityBytes);
        return routing.command === Command.FINAL
          ? { kind: 'final', id, content, replayTag: tag }
          : { kind: 'loop', id, content, replayTag: tag };
      }
      default: // SURB_REPLY: its integrity is checked by openSurbReply.
        return { kind: 'surbReply', id: routing.address.slice(), payload, replayTag: tag };
    }
  } finally {
    wipe(s, prk, rho, mu, pi, b, B);
  }
}

/** α' = X25519(b, α); the header becomes prefix || α' || beta' || gamma' in place. */
function forward(g: Geometry, packet: Uint8Array, b: Uint8Array, B: Uint8Array): void {
  const { alpha, beta, gamma } = g.offsets;
  const s = g.slotBytes,
    t = g.routingBytes;
  const nextAlpha = x25519Unchecked(b, packet.subarray(alpha, beta));
  packet.set(nextAlpha, alpha);
  packet.set(B.subarray(s, s + g.betaBytes), beta);
  packet.set(B.subarray(t, s), gamma);
}

/**
 * Unwraps packets.length / N packets in place and writes one record per packet (§9). A packets buffer that is
 * not a whole number of packets, or a records buffer too small for them, is an argument error.
 */
export function unwrapBatch(g: Geometry, privateKey: Uint8Array, packets: Uint8Array, records: Uint8Array): number {
  checkGeometry(g);
  checkLength('privateKey', privateKey, g.privateKeyBytes);
  checkBytes('packets', packets);
  checkBytes('records', records);
  const N = g.packetBytes;
  if (packets.length % N !== 0) {
    throw new RangeError(`packets must be a multiple of ${N} bytes (packetBytes), got ${packets.length}`);
  }
  const n = packets.length / N;
  if (records.length < n * g.recordBytes) {
    throw new RangeError(
      `records must be at least ${n * g.recordBytes} bytes (${n} × recordBytes), got ${records.length}`,
    );
  }
  for (let i = 0; i < n; i++) {
    encodeRecord(g, records, i, unwrapChecked(g, privateKey, packets.subarray(i * N, (i + 1) * N)));
  }
  return n;
}
