/**
 * Byte helpers for the runtime-neutral client (no Buffer: the client also runs in a browser). Hex comes from
 * @noble/hashes, already the project's hash library.
 */
export { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/** Equal length and bytes; constant time in the length (for comparing keys and tags). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Big-endian unsigned integer of `bytes` bytes (≤ 6) at `at`. */
export function putUint(out: Uint8Array, at: number, bytes: number, value: number): void {
  for (let i = bytes - 1; i >= 0; i--) {
    out[at + i] = value % 256;
    value = Math.floor(value / 256);
  }
}

export function getUint(from: Uint8Array, at: number, bytes: number): number {
  let v = 0;
  for (let i = 0; i < bytes; i++) v = v * 256 + from[at + i]!;
  return v;
}
