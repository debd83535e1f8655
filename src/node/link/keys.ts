/**
 * Link key derivation (docs/packet-format.md "Link layer"). Both nodes of a link know each other's X25519
 * key for an epoch from the signed topology, so a static-static Diffie–Hellman gives them a shared secret
 * without a handshake; HKDF-SHA256 (RFC 5869) turns it into one AES-128 key per directed link and epoch:
 *
 *   ikm  = X25519(own private key of epoch e, peer public key of epoch e)      (32 bytes, all-zero refused)
 *   salt = "loopix-link-v1"
 *   info = "loopix link key" || uint32 BE e || id(sender) || id(receiver)
 *   key  = HKDF-SHA256(ikm, salt, info, 16)
 *
 * The label separates link keys from every Sphinx-derived key (those HKDF calls use other labels and an
 * ephemeral point); the ids in sender-then-receiver order give the two directions of a link different keys,
 * so a datagram cannot be reflected back to its sender; the epoch gives each key epoch its own keys, so a
 * sequence number restarting with a new epoch key never repeats a (key, nonce) pair.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { LINK_KEY_BYTES } from './cipher.js';

const SALT = new TextEncoder().encode('loopix-link-v1');
const LABEL = new TextEncoder().encode('loopix link key');

/** X25519(scalar, point) of a Sphinx backend (native or TS; both give the RFC 7748 result). */
export type X25519 = (scalar: Uint8Array, point: Uint8Array) => Uint8Array;

/** The key for datagrams from `fromId` to `toId` in `epoch`, or null when the DH result is all zero. */
export function deriveLinkKey(
  x25519: X25519,
  ownPrivate: Uint8Array,
  peerPublic: Uint8Array,
  epoch: number,
  fromId: Uint8Array,
  toId: Uint8Array,
): Uint8Array | null {
  const shared = x25519(ownPrivate, peerPublic);
  let any = 0;
  for (const b of shared) any |= b;
  if (any === 0) return null; // small-order peer key: no secret to derive from
  const info = new Uint8Array(LABEL.length + 4 + fromId.length + toId.length);
  info.set(LABEL, 0);
  new DataView(info.buffer).setUint32(LABEL.length, epoch >>> 0, false);
  info.set(fromId, LABEL.length + 4);
  info.set(toId, LABEL.length + 4 + fromId.length);
  const key = hkdf(sha256, shared, SALT, info, LINK_KEY_BYTES);
  shared.fill(0);
  return key;
}
