/**
 * ChaCha20-Poly1305 (RFC 8439) from the OpenSSL Node ships, for the provider's end of the client link
 * (src/protocol/channel.ts). Same construction as the browser-safe @noble/ciphers one the client uses;
 * test/link-channel.test.ts cross-checks the two. OpenSSL verifies the tag in constant time.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { LINK_TAG_BYTES, type Aead } from '../protocol/channel.js';

export const nodeAead: Aead = Object.freeze({
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: LINK_TAG_BYTES });
    const out = new Uint8Array(plaintext.length + LINK_TAG_BYTES);
    const body = c.update(plaintext);
    out.set(body);
    const fin = c.final();
    out.set(fin, body.length);
    out.set(c.getAuthTag(), plaintext.length);
    return out;
  },
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < LINK_TAG_BYTES) return null;
    try {
      const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: LINK_TAG_BYTES });
      d.setAuthTag(sealed.subarray(sealed.length - LINK_TAG_BYTES));
      const body = d.update(sealed.subarray(0, sealed.length - LINK_TAG_BYTES));
      d.final(); // throws when the tag does not verify
      return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    } catch {
      return null;
    }
  },
});
