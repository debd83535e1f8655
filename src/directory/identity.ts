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
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { readFileSync } from 'node:fs';
import { LoopixError } from '../errors.js';
import { canonicalJson } from '../topology/document.js';

export type SignedKind = 'descriptor' | 'report' | 'document';

/** Ed25519 public and secret key, raw 32 bytes each, lowercase hex (the `loopix authority keygen` file). */
export interface IdentityKey {
  readonly publicKey: string;
  readonly privateKey: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** The bytes an object of `kind` is signed over. */
export function signedBytes(kind: SignedKind, body: unknown): Uint8Array {
  return new TextEncoder().encode(`loopix/directory/v1/${kind}\n${canonicalJson(body)}`);
}

export function generateIdentityKey(): IdentityKey {
  const secret = ed25519.utils.randomSecretKey();
  const key = { publicKey: Buffer.from(ed25519.getPublicKey(secret)).toString('hex'), privateKey: Buffer.from(secret).toString('hex') };
  secret.fill(0);
  return key;
}

/** Signs `body` as `kind`; returns the signature, hex (64 bytes). */
export function signObject(kind: SignedKind, body: unknown, key: IdentityKey): string {
  const secret = Uint8Array.from(Buffer.from(key.privateKey, 'hex'));
  try {
    return Buffer.from(ed25519.sign(signedBytes(kind, body), secret)).toString('hex');
  } finally {
    secret.fill(0);
  }
}

/** True when `signature` (hex) is `publicKey`'s signature over `body` as `kind`. Never throws. */
export function verifyObject(kind: SignedKind, body: unknown, signature: string, publicKey: string): boolean {
  if (typeof signature !== 'string' || !HEX128.test(signature) || typeof publicKey !== 'string' || !HEX64.test(publicKey)) return false;
  try {
    return ed25519.verify(Buffer.from(signature, 'hex'), signedBytes(kind, body), Buffer.from(publicKey, 'hex'), { zip215: false });
  } catch {
    return false;
  }
}

/** The node id (hex, `addressBytes` bytes) that belongs to an identity key. */
export function nodeIdFor(identityKey: string, addressBytes: number): string {
  const label = new TextEncoder().encode('loopix/node-id/v1');
  const input = new Uint8Array(label.length + 32);
  input.set(label);
  input.set(Buffer.from(identityKey, 'hex'), label.length);
  return Buffer.from(sha256(input).subarray(0, addressBytes)).toString('hex');
}

/** Reads an identity key file ({publicKey, privateKey}, hex) and checks that the halves belong together. */
export function loadIdentityKeyFile(file: string): IdentityKey {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_IDENTITY_FILE', `identity key file ${file}: ${(err as Error).message}`, { field: file });
  }
  const k = json as Partial<IdentityKey>;
  if (typeof k?.publicKey !== 'string' || !HEX64.test(k.publicKey) || typeof k.privateKey !== 'string' || !HEX64.test(k.privateKey)) {
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_IDENTITY_FILE', `identity key file ${file}: publicKey and privateKey must be 32 bytes of lowercase hex`, { field: file });
  }
  const derived = Buffer.from(ed25519.getPublicKey(Buffer.from(k.privateKey, 'hex'))).toString('hex');
  if (derived !== k.publicKey) {
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_IDENTITY_FILE', `identity key file ${file}: privateKey does not belong to publicKey ${k.publicKey}`, { field: file });
  }
  return { publicKey: k.publicKey, privateKey: k.privateKey };
}
