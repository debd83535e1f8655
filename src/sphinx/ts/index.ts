/**
 * The TypeScript twin of the native Sphinx addon: the same packet format (docs/packet-format.md), byte for
 * byte, over @noble/hashes, @noble/curves and @noble/ciphers. Runs wherever WebCrypto's getRandomValues does
 * (Node and browsers).
 */
import type { SphinxBackend } from '../types.js';
import { lionessDecrypt, lionessEncrypt } from './lioness.js';
import { createPacket, unwrap, unwrapBatch } from './packet.js';
import { aes128Ctr, hkdfSha256, hmacSha256, x25519, x25519Base } from './primitives.js';
import { createSurb, createSurbReply, openSurbReply } from './surb.js';

export const tsBackend: SphinxBackend = Object.freeze({
  name: 'ts',
  x25519,
  x25519Base,
  aes128Ctr,
  hmacSha256,
  hkdfSha256,
  lionessEncrypt,
  lionessDecrypt,
  createPacket,
  unwrap,
  unwrapBatch,
  createSurb,
  createSurbReply,
  openSurbReply,
} as const);

export { lift, clamp, ELL } from './scalar.js';
