/**
 * The link AEAD in batch form: AES-128-GCM (NIST SP 800-38D) with the 12-byte link header as nonce and as
 * additional data (docs/packet-format.md "Link layer"). Two implementations of one interface:
 *  - native: the addon (native/link.cc, the OpenSSL inside Node, AES-NI/CLMUL code paths) — the packet path;
 *  - ts: @noble/ciphers' gcm — the reference the native one is cross-checked against (known-answer vectors
 *    in test/link-kat.test.ts), and the fallback where the addon does not load.
 *
 * Layout of datagram i in `datagrams`: bytes [i·D, (i+1)·D) with D = header + payloadBytes + tag; the header
 * and the payload are in place before `sealBatch`, which encrypts the payload in place and writes the tag.
 * `openBatch` decrypts in place; ok[i] = 1 where the tag verified, 0 (and the payload zeroed) where not;
 * ok[i] = LINK_SKIP on input leaves datagram i untouched (already rejected by the caller).
 */
import { gcm } from '@noble/ciphers/aes.js';
import { nativeLinkBatch } from '../../sphinx/native.js';

export const LINK_KEY_BYTES = 16;
/** ok[] input value that makes openBatch skip a datagram (native/link.h kLinkSkip). */
export const LINK_SKIP = 0xff;
const HEADER = 12;
const TAG = 16;

export interface LinkCipher {
  readonly name: 'native' | 'ts';
  /** keys: count × 16 bytes, key i seals datagram i. */
  sealBatch(keys: Uint8Array, datagrams: Uint8Array, payloadBytes: number, count: number): void;
  openBatch(keys: Uint8Array, datagrams: Uint8Array, payloadBytes: number, count: number, ok: Uint8Array): void;
}

/** The addon's AES-128-GCM (throws when the addon does not load). */
export function nativeLinkCipher(): LinkCipher {
  const a = nativeLinkBatch();
  return {
    name: 'native',
    sealBatch: (keys, datagrams, payloadBytes, count) => a.linkSealBatch(keys, datagrams, payloadBytes, count),
    openBatch: (keys, datagrams, payloadBytes, count, ok) => a.linkOpenBatch(keys, datagrams, payloadBytes, count, ok),
  };
}

/** The pure-TypeScript twin (@noble/ciphers). */
export const tsLinkCipher: LinkCipher = {
  name: 'ts',
  sealBatch(keys, datagrams, payloadBytes, count) {
    const D = HEADER + payloadBytes + TAG;
    for (let i = 0; i < count; i++) {
      const at = i * D;
      const header = datagrams.slice(at, at + HEADER);
      const key = keys.subarray(i * LINK_KEY_BYTES, (i + 1) * LINK_KEY_BYTES);
      const sealed = gcm(key, header, header).encrypt(datagrams.subarray(at + HEADER, at + HEADER + payloadBytes));
      datagrams.set(sealed, at + HEADER);
    }
  },
  openBatch(keys, datagrams, payloadBytes, count, ok) {
    const D = HEADER + payloadBytes + TAG;
    for (let i = 0; i < count; i++) {
      if (ok[i] === LINK_SKIP) continue;
      const at = i * D;
      const header = datagrams.slice(at, at + HEADER);
      const key = keys.subarray(i * LINK_KEY_BYTES, (i + 1) * LINK_KEY_BYTES);
      try {
        const plain = gcm(key, header, header).decrypt(datagrams.subarray(at + HEADER, at + D));
        datagrams.set(plain, at + HEADER);
        ok[i] = 1;
      } catch {
        datagrams.fill(0, at + HEADER, at + HEADER + payloadBytes);
        ok[i] = 0;
      }
    }
  },
};

/** The native cipher when the addon loads, else the twin. */
export function defaultLinkCipher(): LinkCipher {
  try {
    return nativeLinkCipher();
  } catch {
    return tsLinkCipher;
  }
}
