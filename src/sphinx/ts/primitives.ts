/**
 * The cryptographic primitives of the packet format (docs/packet-format.md §3, §6) over the noble libraries:
 * X25519 (RFC 7748), AES-128-CTR (SP 800-38A, 128-bit big-endian counter), HMAC-SHA256 (RFC 2104) and
 * HKDF-SHA256 (RFC 5869), plus constant-time comparison and wiping.
 *
 * Why a module of its own: every other module of the TypeScript twin talks to noble only through these
 * functions, so argument checks, the "all-zero result instead of an exception" convention of X25519 and the
 * in-place stream XOR live in one place. No `node:*` import: the twin also runs in browsers.
 */
import { ctr } from '@noble/ciphers/aes.js';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { FORMAT } from '../../geometry.js';

/** Sizes fixed by the primitives themselves (not by a network's geometry; src/geometry.ts FORMAT). */
export const X25519_BYTES = FORMAT.keyBytes;
export const AES128_KEY_BYTES = FORMAT.aesKeyBytes;
export const AES_BLOCK_BYTES = FORMAT.aesIvBytes;
export const SHA256_BYTES = FORMAT.sha256Bytes;
/** RFC 5869 §2.3: L ≤ 255 · HashLen. */
export const HKDF_MAX_BYTES = FORMAT.hkdfMaxBytes;

// ---------------------------------------------------------------------------------------------------------
// Argument checks shared by every public function of the twin.

/** Throws a TypeError unless `value` is a Uint8Array. */
export function checkBytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${value === null ? 'null' : typeof value}`);
  }
  return value;
}

/** Throws unless `value` is a Uint8Array of exactly `length` bytes. */
export function checkLength(name: string, value: unknown, length: number): Uint8Array {
  const bytes = checkBytes(name, value);
  if (bytes.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${bytes.length}`);
  return bytes;
}

/** Throws unless `value` is an integer in [min, max]. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  if (value < min || value > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// Byte helpers.

/** Overwrites every given buffer with zeros (the closest JavaScript gets to freeing a secret). */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Compares two byte strings in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Whether every byte is zero, in time that depends only on the length. */
export function isAllZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]!;
  return acc === 0;
}

/** dst[i] ^= src[i] for i < src.length. */
export function xorInto(dst: Uint8Array, src: Uint8Array): void {
  for (let i = 0; i < src.length; i++) dst[i]! ^= src[i]!;
}

/** Random bytes from the platform CSPRNG (WebCrypto: Node ≥ 19 and browsers). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  globalThis.crypto.getRandomValues(out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// X25519 (RFC 7748).

/**
 * X25519(scalar, u): clamps the scalar, masks the top bit of u and reduces it, as RFC 7748 §5 requires.
 * A point of small order gives the all-zero result (RFC 7748 §6.1) rather than an exception, so that the
 * packet path can turn it into `invalid{point}`.
 */
export function x25519(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  checkLength('scalar', scalar, X25519_BYTES);
  checkLength('point', point, X25519_BYTES);
  return x25519Unchecked(scalar, point);
}

/** x25519 without argument checks, for callers that have already checked (the packet hot path). */
export function x25519Unchecked(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  try {
    return nobleX25519.scalarMult(scalar, point);
  } catch {
    // With both lengths right, noble's only refusal is a small-order u (whose RFC 7748 result is all zero),
    // which it rejects before running the ladder.
    return new Uint8Array(X25519_BYTES);
  }
}

/** X25519(scalar, 9): the public key of a private key. */
export function x25519Base(scalar: Uint8Array): Uint8Array {
  checkLength('scalar', scalar, X25519_BYTES);
  return nobleX25519.scalarMultBase(scalar);
}

// ---------------------------------------------------------------------------------------------------------
// AES-128-CTR (SP 800-38A: the whole 16-byte counter block is incremented big-endian).

const aligned32 = (a: Uint8Array): boolean => a.byteOffset % Uint32Array.BYTES_PER_ELEMENT === 0;
/** Scratch for in-place XOR of buffers noble cannot write to directly (noble needs 4-byte alignment). */
let scratch = new Uint8Array(0);

/** Returns data XOR AES-128-CTR(key, iv) as a new array. */
export function aes128Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  checkLength('key', key, AES128_KEY_BYTES);
  checkLength('iv', iv, AES_BLOCK_BYTES);
  checkBytes('data', data);
  return ctr(key, iv).encrypt(data);
}

/** The first `length` bytes of the AES-128-CTR key stream (encryption of zeros). */
export function aes128CtrStream(key: Uint8Array, iv: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  return ctr(key, iv).encrypt(out, out);
}

/** data ^= AES-128-CTR(key, iv), in place. */
export function aes128CtrInPlace(key: Uint8Array, iv: Uint8Array, data: Uint8Array): void {
  if (aligned32(data)) {
    ctr(key, iv).encrypt(data, data);
    return;
  }
  if (scratch.length < data.length) scratch = new Uint8Array(data.length);
  const tmp = scratch.subarray(0, data.length);
  tmp.set(data);
  ctr(key, iv).encrypt(tmp, tmp);
  data.set(tmp);
  tmp.fill(0);
}

// ---------------------------------------------------------------------------------------------------------
// HMAC-SHA256 and HKDF-SHA256.

/** HMAC-SHA256(key, data). */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkBytes('key', key);
  checkBytes('data', data);
  return hmac(sha256, key, data);
}

/** HMAC-SHA256(key, a || b) without concatenating. */
export function hmacSha256Parts(key: Uint8Array, a: Uint8Array, b: Uint8Array): Uint8Array {
  return hmac.create(sha256, key).update(a).update(b).digest();
}

/** HKDF-SHA256 (RFC 5869): Expand(Extract(salt, ikm), info, length). */
export function hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkBytes('salt', salt);
  checkBytes('ikm', ikm);
  checkBytes('info', info);
  checkInteger('length', length, 0, HKDF_MAX_BYTES);
  const prk = hkdfExtract(salt, ikm);
  try {
    return hkdfExpand(prk, info, length);
  } finally {
    wipe(prk);
  }
}

/** HKDF-Extract(salt, ikm) = HMAC-SHA256(salt, ikm). */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return extract(sha256, ikm, salt);
}

/** HKDF-Expand(prk, info, length). */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return expand(sha256, prk, info, length);
}
