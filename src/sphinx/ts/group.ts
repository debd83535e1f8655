/**
 * The two X25519 multiplications a sender does per hop (docs/packet-format.md §5.1):
 * α_i = X25519(k_i, 9) and s_i = X25519(k_i, Y_i), for lifted scalars k_i (clamp(k_i) = k_i).
 */
import { x25519Base, x25519Unchecked } from './primitives.js';

/** α = X25519(k, 9). */
export function mulBase(k: Uint8Array): Uint8Array {
  return x25519Base(k);
}

/** s = X25519(k, Y); all zero when Y has small order. */
export function mulPublic(k: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return x25519Unchecked(k, publicKey);
}
