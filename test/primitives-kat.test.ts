/** Known-answer vectors (RFC 7748, RFC 5869, RFC 4231, SP 800-38A) against both implementations. */
import { describe, expect, it } from 'vitest';
import { BACKENDS, hex, toHex } from './helpers/backends.js';
import {
  AES_CTR_VECTOR,
  HKDF_VECTORS,
  HMAC_VECTORS,
  X25519_DH,
  X25519_ITERATED,
  X25519_VECTORS,
} from './vectors/kat.js';

describe.each(BACKENDS.map((b) => [b.name, b] as const))('%s primitives', (_name, b) => {
  it('X25519 matches the RFC 7748 §5.2 scalar-multiplication vectors', () => {
    for (const v of X25519_VECTORS) expect(toHex(b.x25519(hex(v.scalar), hex(v.u)))).toBe(v.out);
  });

  it('X25519 matches the RFC 7748 iterated vector after 1 and 1,000 iterations', () => {
    let k: Uint8Array = new Uint8Array(32);
    k[0] = 9;
    let u: Uint8Array = k.slice();
    for (let i = 1; i <= 1000; i++) {
      const r = b.x25519(k, u);
      u = k;
      k = r;
      if (i === 1) expect(toHex(k)).toBe(X25519_ITERATED.after1);
    }
    expect(toHex(k)).toBe(X25519_ITERATED.after1000);
  });

  it('X25519 derives the RFC 7748 §6.1 public keys and shared secret', () => {
    expect(toHex(b.x25519Base(hex(X25519_DH.alicePriv)))).toBe(X25519_DH.alicePub);
    expect(toHex(b.x25519Base(hex(X25519_DH.bobPriv)))).toBe(X25519_DH.bobPub);
    expect(toHex(b.x25519(hex(X25519_DH.alicePriv), hex(X25519_DH.bobPub)))).toBe(X25519_DH.shared);
    expect(toHex(b.x25519(hex(X25519_DH.bobPriv), hex(X25519_DH.alicePub)))).toBe(X25519_DH.shared);
  });

  it('HKDF-SHA256 matches RFC 5869 test cases 1–3', () => {
    for (const v of HKDF_VECTORS) {
      expect(toHex(b.hkdfSha256(hex(v.salt), hex(v.ikm), hex(v.info), v.length))).toBe(v.okm);
    }
  });

  it('HMAC-SHA256 matches RFC 4231 test cases 1–7', () => {
    for (const v of HMAC_VECTORS) {
      expect(toHex(b.hmacSha256(hex(v.key), hex(v.data))).slice(0, v.mac.length)).toBe(v.mac);
    }
  });

  it('AES-128-CTR matches NIST SP 800-38A F.5.1, also when split at a block-unaligned length', () => {
    const v = AES_CTR_VECTOR;
    expect(toHex(b.aes128Ctr(hex(v.key), hex(v.counter), hex(v.plaintext)))).toBe(v.ciphertext);
    expect(toHex(b.aes128Ctr(hex(v.key), hex(v.counter), hex(v.plaintext).subarray(0, 37)))).toBe(
      v.ciphertext.slice(0, 74),
    );
  });

  it('LIONESS decrypts what it encrypts and a one-bit change garbles the whole block', () => {
    const key = Uint8Array.from({ length: 128 }, (_, i) => i);
    const block = Uint8Array.from({ length: 1040 }, (_, i) => (i * 7) & 0xff);
    const ct = b.lionessEncrypt(key, block);
    expect(ct.length).toBe(1040);
    expect(toHex(b.lionessDecrypt(key, ct))).toBe(toHex(block));
    const tampered = ct.slice();
    tampered[500]! ^= 1;
    const garbled = b.lionessDecrypt(key, tampered);
    let same = 0;
    for (let i = 0; i < block.length; i++) if (garbled[i] === block[i]) same++;
    // Unrelated bytes agree with probability 1/256: ~4 of 1040; far fewer than any predictable bit flip.
    expect(same).toBeLessThan(30);
  });

  it('rejects wrong-length keys with an error naming the argument and the length', () => {
    expect(() => b.x25519(new Uint8Array(31), new Uint8Array(32))).toThrow(/scalar.*32/);
    expect(() => b.x25519(new Uint8Array(32), new Uint8Array(33))).toThrow(/point.*32/);
    expect(() => b.aes128Ctr(new Uint8Array(15), new Uint8Array(16), new Uint8Array(1))).toThrow(/key.*16/);
    expect(() => b.aes128Ctr(new Uint8Array(16), new Uint8Array(17), new Uint8Array(1))).toThrow(/iv.*16/);
    expect(() => b.lionessEncrypt(new Uint8Array(127), new Uint8Array(1040))).toThrow(/key.*128/);
    expect(() => b.hkdfSha256(new Uint8Array(0), new Uint8Array(1), new Uint8Array(0), 255 * 32 + 1)).toThrow(/length/);
  });
});
