/**
 * Ed25519 identity keys and signatures of the directory (@noble/curves, RFC 8032 with strict, non-ZIP-215
 * verification: a non-canonical point or scalar is refused, so one message has one valid signature per key).
 *
 * Every signed object of the directory — a node's descriptor, a loop report, an epoch's document — is signed
 * over the same canonical byte encoding (docs/packet-format.md "Directory encoding"):
 *
 *   UTF-8("loopix/directory/v1/" + kind + "\n") ‖ UTF-8(canonicalJson(body))
 *
 * canonicalJson sorts object keys and drops whitespace (src/topology/document.ts), and the kind prefix keeps a
 * signature over one kind of object from being valid as another (a report can never pass as a descriptor).
 *
 * A node's id (the address RELAY commands name) is derived from its identity key, so no node can claim
 * another's id: the first geometry.addressBytes bytes of SHA-256("loopix/node-id/v1" ‖ identity key).
 *
 * No Node built-in here (browser clients verify documents with it); the key-file reader is ./identity-file.ts.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../topology/canonical.js';

export type SignedKind = 'descriptor' | 'report' | 'document';

/** Ed25519 public and secret key, raw 32 bytes each, lowercase hex (the `loopix authority keygen` file). */
export interface IdentityKey {
  readonly publicKey: string;
  readonly privateKey: string;
}

export const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** The bytes an object of `kind` is signed over. */
export function signedBytes(kind: SignedKind, body: unknown): Uint8Array {
  return new TextEncoder().encode(`loopix/directory/v1/${kind}\n${canonicalJson(body)}`);
}

export function generateIdentityKey(): IdentityKey {
  const secret = ed25519.utils.randomSecretKey();
  const key = { publicKey: bytesToHex(ed25519.getPublicKey(secret)), privateKey: bytesToHex(secret) };
  secret.fill(0);
  return key;
}

/** Signs `body` as `kind`; returns the signature, hex (64 bytes). */
export function signObject(kind: SignedKind, body: unknown, key: IdentityKey): string {
  const secret = hexToBytes(key.privateKey);
  try {
    return bytesToHex(ed25519.sign(signedBytes(kind, body), secret));
  } finally {
    secret.fill(0);
  }
}

/** True when `signature` (hex) is `publicKey`'s signature over `body` as `kind`. Never throws. */
export function verifyObject(kind: SignedKind, body: unknown, signature: string, publicKey: string): boolean {
  if (
    typeof signature !== 'string' ||
    !HEX128.test(signature) ||
    typeof publicKey !== 'string' ||
    !HEX64.test(publicKey)
  )
    return false;
  try {
    return ed25519.verify(hexToBytes(signature), signedBytes(kind, body), hexToBytes(publicKey), { zip215: false });
  } catch {
    return false;
  }
}

/** The node id (hex, `addressBytes` bytes) that belongs to an identity key. */
export function nodeIdFor(identityKey: string, addressBytes: number): string {
  const label = new TextEncoder().encode('loopix/node-id/v1');
  const input = new Uint8Array(label.length + 32);
  input.set(label);
  input.set(hexToBytes(identityKey), label.length);
  return bytesToHex(sha256(input).subarray(0, addressBytes));
}
