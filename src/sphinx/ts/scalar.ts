/**
 * Scalar arithmetic of the sender's blinding chain (docs/packet-format.md §5.1).
 *
 * Why: hop i re-blinds α with X25519(b_i, α), i.e. multiplies by clamp(b_i). The sender tracks the
 * cumulative exponent e_i (α_i = e_i·G) modulo the group order ℓ and turns it into a 32-byte scalar k_i that
 * X25519's clamping leaves unchanged, so every α_i costs one fixed-base multiplication instead of i + 1
 * variable-base ones.
 */
import { X25519_BYTES } from './primitives.js';

/** ℓ = 2^252 + 27742317777372353535851937790883648493, the order of the prime-order subgroup. */
export const ELL = (1n << 252n) + 27742317777372353535851937790883648493n;
/** The cofactor h = 8: clamped scalars are multiples of it. */
export const COFACTOR = 8n;
/** Clamped scalars lie in [2^254, 2^255). */
const CLAMP_LOW = 1n << 254n;
const CLAMP_HIGH = 1n << 255n;

function powMod(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  base %= m;
  for (; exp > 0n; exp >>= 1n) {
    if (exp & 1n) result = (result * base) % m;
    base = (base * base) % m;
  }
  return result;
}

/** 8⁻¹ mod ℓ (Fermat: ℓ is prime). */
const INV_COFACTOR = powMod(COFACTOR, ELL - 2n, ELL);

/** Little-endian bytes → integer. */
export function fromLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** Integer → `length` little-endian bytes (the integer must fit). */
export function toLE(n: bigint, length: number = X25519_BYTES): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** clamp(k) of RFC 7748 §5 as an integer: clear the low 3 bits and bit 255, set bit 254. */
export function clamp(scalar: Uint8Array): bigint {
  const c = scalar.slice(0, X25519_BYTES);
  c[0]! &= 0xf8;
  c[X25519_BYTES - 1]! &= 0x7f;
  c[X25519_BYTES - 1]! |= 0x40;
  const n = fromLE(c);
  c.fill(0);
  return n;
}

/** e_0 = clamp(x) mod ℓ. */
export function initialExponent(x: Uint8Array): bigint {
  return clamp(x) % ELL;
}

/** e_{i+1} = e_i · clamp(b_i) mod ℓ. */
export function nextExponent(e: bigint, b: Uint8Array): bigint {
  return (e * clamp(b)) % ELL;
}

/**
 * lift(e): a 32-byte X25519 scalar k with clamp(k) = k and X25519(k, P) = u(e·P) for every P of order ℓ.
 *
 * 1. c = 8 · (e · 8⁻¹ mod ℓ): the unique c ∈ [0, 8ℓ) with c ≡ e (mod ℓ) and c ≡ 0 (mod 8).
 * 2. If 2^254 ≤ c < 2^255, k = c.
 * 3. Otherwise c' = 8ℓ − c (≡ −e mod ℓ; same u-coordinate since x(kP) = x(−kP)); k = c' if in range.
 * 4. Otherwise (probability ≈ 2⁻¹²⁵) null: the caller fails with `unliftable scalar`.
 */
export function lift(e: bigint): Uint8Array | null {
  const c = COFACTOR * (((e % ELL) * INV_COFACTOR) % ELL);
  if (c >= CLAMP_LOW && c < CLAMP_HIGH) return toLE(c);
  const cNeg = COFACTOR * ELL - c;
  if (cNeg >= CLAMP_LOW && cNeg < CLAMP_HIGH) return toLE(cNeg);
  return null;
}
