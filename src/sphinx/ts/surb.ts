/**
 * Single-use reply blocks (docs/packet-format.md §7).
 *
 * Why: a SURB lets a recipient answer without learning the path back. The creator builds the header exactly
 * like a forward packet's and keeps the LIONESS keys; the replier only adds a payload under the SURB key.
 */
import type { Geometry } from '../../geometry.js';
import { Command, type Surb, type SurbSpec } from '../types.js';
import { seedKeys, surbPayloadKey } from './keys.js';
import { lionessDecryptInPlace, lionessEncryptInPlace } from './lioness.js';
import { sealHeader, wipeSecrets, withSeed } from './packet.js';
import type { HopSecrets } from './path.js';
import { checkBytes, checkLength, isAllZero, wipe } from './primitives.js';
import { checkContent, checkEpoch, checkGeometry, checkHops, checkSeed, checkSpec } from './spec.js';

/**
 * createSurb:
 * 1. seed keys x, padKey, surbKey;
 * 2. per-hop secrets and the header over the reply path (last hop: the creator, SURB_REPLY);
 * 3. surb = firstHop || header || surbKey; decryptionKeys = pi_0 || … || pi_{ν−1} || piSurb.
 */
export function createSurb(g: Geometry, spec: SurbSpec): Surb {
  checkGeometry(g);
  checkSpec(spec);
  const epoch = checkEpoch(spec.epoch);
  const hops = checkHops(g, spec.hops);
  const last = hops.length - 1;
  if (hops[last]!.command !== Command.SURB_REPLY) {
    throw new RangeError(
      `hops[${last}].command must be SURB_REPLY (${Command.SURB_REPLY}) in a SURB, got ${hops[last]!.command}`,
    );
  }
  const firstHop = checkLength('firstHop', spec.firstHop, g.addressBytes);
  const seed = checkSeed(g, spec.seed);
  return withSeed(g, seed, (s) => {
    const keys = seedKeys(g, s); // 1.
    const surb = new Uint8Array(g.surbBytes);
    const headerAt = g.addressBytes,
      keyAt = headerAt + g.headerBytes;
    const secrets: HopSecrets[] = [];
    try {
      secrets.push(...sealHeader(g, epoch, hops, keys, surb.subarray(headerAt, keyAt))); // 2.
      surb.set(firstHop, 0); // 3.
      surb.set(keys.surbKey, keyAt);
      const K = g.lionessKeyBytes;
      const decryptionKeys = new Uint8Array((secrets.length + 1) * K);
      secrets.forEach((h, i) => decryptionKeys.set(h.pi, i * K));
      const piSurb = surbPayloadKey(g, keys.surbKey);
      decryptionKeys.set(piSurb, secrets.length * K);
      wipe(piSurb);
      return { surb, decryptionKeys };
    } finally {
      wipeSecrets(secrets);
      wipe(keys.x, keys.padKey, keys.surbKey);
    }
  });
}

/** The reply packet: header || LIONESS-Encrypt(piSurb, 0^Z || content || 0^(C − |content|)), sent to firstHop. */
export function createSurbReply(
  g: Geometry,
  surb: Uint8Array,
  content: Uint8Array,
): { firstHop: Uint8Array; packet: Uint8Array } {
  checkGeometry(g);
  checkLength('surb', surb, g.surbBytes);
  checkContent(g, content);
  const headerAt = g.addressBytes,
    keyAt = headerAt + g.headerBytes;
  const packet = new Uint8Array(g.packetBytes);
  packet.set(surb.subarray(headerAt, keyAt), 0);
  const payload = packet.subarray(g.offsets.payload, g.packetBytes);
  payload.set(content, g.integrityBytes);
  const piSurb = surbPayloadKey(g, surb.subarray(keyAt, keyAt + g.surbKeyBytes));
  lionessEncryptInPlace(piSurb, payload);
  wipe(piSurb);
  return { firstHop: surb.slice(0, headerAt), packet };
}

/**
 * Recovers a reply's content from the creator's `surbReply` payload, or null when it fails integrity:
 * 1. LIONESS-Encrypt with pi_{ν−1}, …, pi_0 (undoing every hop's decryption, the creator's own included);
 * 2. LIONESS-Decrypt with piSurb;
 * 3. check the zero prefix in constant time and return the C content bytes.
 * A payload that is not Y bytes long is packet content, so it gives null rather than an exception.
 */
export function openSurbReply(g: Geometry, decryptionKeys: Uint8Array, payload: Uint8Array): Uint8Array | null {
  checkGeometry(g);
  checkBytes('decryptionKeys', decryptionKeys);
  checkBytes('payload', payload);
  const K = g.lionessKeyBytes;
  const count = decryptionKeys.length / K;
  if (!Number.isInteger(count) || count < 2 || count > g.maxHops + 1) {
    throw new RangeError(
      `decryptionKeys must be 2..${g.maxHops + 1} LIONESS keys of ${K} bytes, got ${decryptionKeys.length} bytes`,
    );
  }
  if (payload.length !== g.payloadBytes) return null;
  const key = (i: number): Uint8Array => decryptionKeys.subarray(i * K, (i + 1) * K);
  const block = payload.slice();
  try {
    for (let i = count - 2; i >= 0; i--) lionessEncryptInPlace(key(i), block); // 1.
    lionessDecryptInPlace(key(count - 1), block); // 2.
    if (!isAllZero(block.subarray(0, g.integrityBytes))) return null; // 3.
    return block.slice(g.integrityBytes);
  } finally {
    wipe(block);
  }
}
