/**
 * Both Sphinx implementations, loaded explicitly. The native addon is required: `npm install` builds it, so a
 * test run where it fails to load is a broken build and fails loudly instead of quietly testing one backend.
 */
import { loadNativeBackend } from '../../src/sphinx/native.js';
import { tsBackend } from '../../src/sphinx/ts/index.js';
import type { SphinxBackend } from '../../src/sphinx/types.js';

export const native: SphinxBackend = loadNativeBackend();
export const ts: SphinxBackend = tsBackend;
export const BACKENDS: readonly SphinxBackend[] = [native, ts];

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Deterministic pseudo-random bytes (SplitMix-style), so failures reproduce. */
export function prng(seed: number): (n: number) => Uint8Array {
  let s = BigInt(seed) & 0xffff_ffff_ffff_ffffn;
  const next = (): bigint => {
    s = (s + 0x9e37_79b9_7f4a_7c15n) & 0xffff_ffff_ffff_ffffn;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58_476d_1ce4_e5b9n) & 0xffff_ffff_ffff_ffffn;
    z = ((z ^ (z >> 27n)) * 0x94d0_49bb_1331_11ebn) & 0xffff_ffff_ffff_ffffn;
    return z ^ (z >> 31n);
  };
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let v = next();
      for (let j = i; j < Math.min(n, i + 8); j++, v >>= 8n) out[j] = Number(v & 0xffn);
    }
    return out;
  };
}
