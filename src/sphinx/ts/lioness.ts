/**
 * LIONESS (Anderson–Biham 1996) over the whole Y-byte payload (docs/packet-format.md §6).
 *
 * Why a wide-block cipher: flipping any ciphertext bit scrambles the whole decrypted block, so a tagging
 * attacker learns nothing from where the flip lands and the final hop's zero prefix catches it.
 *
 * K = K1 || K2 || K3 || K4 (32 bytes each); the block splits into Lb (32 bytes) and Rb (the rest).
 * S(k) = AES-128-CTR with key k[0..16) and initial counter block k[16..32); H(k, m) = HMAC-SHA256(k, m).
 */
import {
  AES128_KEY_BYTES,
  SHA256_BYTES,
  aes128CtrInPlace,
  checkBytes,
  checkLength,
  hmacSha256,
  wipe,
  xorInto,
} from './primitives.js';

/** One LIONESS round key (K1..K4) and the left half Lb: one SHA-256 output. */
export const LIONESS_SUBKEY_BYTES = SHA256_BYTES;
/** |K| = 4 round keys. */
export const LIONESS_KEY_BYTES = 4 * LIONESS_SUBKEY_BYTES;

const K1 = 0,
  K2 = 1,
  K3 = 2,
  K4 = 3;
const subkey = (key: Uint8Array, i: number): Uint8Array =>
  key.subarray(i * LIONESS_SUBKEY_BYTES, (i + 1) * LIONESS_SUBKEY_BYTES);

/** Rb ^= S(Lb ^ K). */
function streamRound(key: Uint8Array, left: Uint8Array, right: Uint8Array): void {
  const k = left.slice();
  xorInto(k, key);
  aes128CtrInPlace(k.subarray(0, AES128_KEY_BYTES), k.subarray(AES128_KEY_BYTES), right);
  wipe(k);
}

/** Lb ^= H(K, Rb). */
function hashRound(key: Uint8Array, left: Uint8Array, right: Uint8Array): void {
  const h = hmacSha256(key, right);
  xorInto(left, h);
  wipe(h);
}

/** Encrypts `block` in place (no argument checks: the packet path calls it with known lengths). */
export function lionessEncryptInPlace(key: Uint8Array, block: Uint8Array): void {
  const left = block.subarray(0, LIONESS_SUBKEY_BYTES);
  const right = block.subarray(LIONESS_SUBKEY_BYTES);
  // 1. Rb ^= S(Lb ^ K1)   2. Lb ^= H(K2, Rb)   3. Rb ^= S(Lb ^ K3)   4. Lb ^= H(K4, Rb)
  streamRound(subkey(key, K1), left, right);
  hashRound(subkey(key, K2), left, right);
  streamRound(subkey(key, K3), left, right);
  hashRound(subkey(key, K4), left, right);
}

/** Decrypts `block` in place (the rounds of encryption in reverse order). */
export function lionessDecryptInPlace(key: Uint8Array, block: Uint8Array): void {
  const left = block.subarray(0, LIONESS_SUBKEY_BYTES);
  const right = block.subarray(LIONESS_SUBKEY_BYTES);
  // 1. Lb ^= H(K4, Rb)   2. Rb ^= S(Lb ^ K3)   3. Lb ^= H(K2, Rb)   4. Rb ^= S(Lb ^ K1)
  hashRound(subkey(key, K4), left, right);
  streamRound(subkey(key, K3), left, right);
  hashRound(subkey(key, K2), left, right);
  streamRound(subkey(key, K1), left, right);
}

function checkArgs(key: unknown, block: unknown): void {
  checkLength('key', key, LIONESS_KEY_BYTES);
  const b = checkBytes('block', block);
  if (b.length <= LIONESS_SUBKEY_BYTES) {
    throw new RangeError(`block must be longer than ${LIONESS_SUBKEY_BYTES} bytes, got ${b.length}`);
  }
}

/** LIONESS-Encrypt(key, block) as a new array. */
export function lionessEncrypt(key: Uint8Array, block: Uint8Array): Uint8Array {
  checkArgs(key, block);
  const out = block.slice();
  lionessEncryptInPlace(key, out);
  return out;
}

/** LIONESS-Decrypt(key, block) as a new array. */
export function lionessDecrypt(key: Uint8Array, block: Uint8Array): Uint8Array {
  checkArgs(key, block);
  const out = block.slice();
  lionessDecryptInPlace(key, out);
  return out;
}
