/**
 * The encrypted client ↔ provider link (docs/packet-format.md §"Client link"; AnonPoP §4: "all the
 * communication between every pair of adjacent entities is authenticated and encrypted"; Loopix §2.2, §4.1.2:
 * a global passive observer must not learn from a pull reply how many real messages it carries).
 *
 * Browser-safe on purpose: only @noble/* and the Web Crypto `getRandomValues`, no node: imports. The provider
 * may plug Node's own ChaCha20-Poly1305 in through the `Aead` interface (src/provider/node-aead.ts); both are
 * the same RFC 8439 construction and cross-checked in test/link-channel.test.ts.
 *
 * Handshake (three frames in the clear, each made of keys and random bytes only):
 *
 *   HELLO      e_c                              (client ephemeral X25519 public key, top bit random)
 *   CHALLENGE  nonce (32) || e_p                (provider ephemeral key, top bit random)
 *   AUTH       seal(k_id, 0, s_c) || proof      (client static public key, encrypted; 48 + 32 bytes)
 *
 *   th      = SHA-256("loopix-link-v1" || HELLO frame || CHALLENGE frame)          (raw bytes as sent)
 *   ee      = X25519(e_c, e_p)                   es = X25519(s_c, e_p)
 *   k_id    = HKDF-SHA256(salt = th, IKM = ee, info = "loopix-link-v1 id", 32)
 *   PRK     = HKDF-Extract(salt = th, IKM = ee || es)
 *   k_auth, k_c2p, k_p2c = HKDF-Expand(PRK, "loopix-link-v1 auth" | "… c2p" | "… p2c", 32)
 *   proof   = HMAC-SHA256(k_auth, th || sealed s_c)
 *
 * The proof shows possession of the static key (es) and binds the whole transcript; ee gives forward secrecy
 * to the session keys and hides the client's identity from a passive observer. X25519 ignores the top bit of
 * a u-coordinate (RFC 7748 §5), so it is drawn at random on the wire: a real key no longer has a fixed 0 bit.
 *
 * After AUTH every frame in both directions is one record: ChaCha20-Poly1305(k_dir, nonce = 0^4 || counter
 * (uint64 BE), plaintext = frame || zero padding), with a per-direction counter starting at 0 (the
 * WebSocket is ordered and reliable, so the counter is implicit and a dropped, reordered or replayed record
 * fails authentication). Each frame type is padded to one fixed size (`linkSizes`), so a passive observer
 * sees uniformly random records of two sizes per direction and nothing else.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf, expand, extract } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { CLIENT_FRAME, FORMAT, type Geometry } from '../geometry.js';
import { FrameType, REQUEST_ID_BYTES } from './frames.js';

/** Bytes of an X25519 key, of the CHALLENGE nonce, of the proof, of a session key. */
export const LINK_KEY_BYTES = FORMAT.keyBytes;
/** Poly1305 tag appended to every record. */
export const LINK_TAG_BYTES = CLIENT_FRAME.linkTagBytes;
/** ChaCha20-Poly1305 nonce (RFC 8439 §2.8): 4 zero bytes || the 64-bit record counter. */
export const LINK_NONCE_BYTES = CLIENT_FRAME.linkNonceBytes;
/** The client's static key as carried in AUTH: sealed with k_id. */
export const SEALED_STATIC_BYTES = CLIENT_FRAME.sealedKeyBytes;
/** Longest ERROR message (UTF-8 bytes) carried in a record; longer ones are cut. */
export const MAX_ERROR_MESSAGE_BYTES = CLIENT_FRAME.maxErrorBytes;

const enc = new TextEncoder();
const LABEL = 'loopix-link-v1';
const L_TRANSCRIPT = enc.encode(LABEL);
const L_ID = enc.encode(`${LABEL} id`);
const L_AUTH = enc.encode(`${LABEL} auth`);
const L_C2P = enc.encode(`${LABEL} c2p`);
const L_P2C = enc.encode(`${LABEL} p2c`);

/** An AEAD over 32-byte keys, 12-byte nonces and 16-byte tags (ChaCha20-Poly1305, RFC 8439). */
export interface Aead {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or null when the tag does not verify. Never throws on bad input. */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

/** ChaCha20-Poly1305 from @noble/ciphers (constant-time tag check), usable in browsers. */
export const nobleAead: Aead = Object.freeze({
  seal: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array) => chacha20poly1305(key, nonce).encrypt(plaintext),
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | null {
    try {
      return chacha20poly1305(key, nonce).decrypt(sealed);
    } catch {
      return null;
    }
  },
});

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/** Fills `out` from the platform CSPRNG (Web Crypto; 65,536 bytes per call at most). */
export function fillRandom(out: Uint8Array): Uint8Array {
  for (let at = 0; at < out.length; at += 65536)
    crypto.getRandomValues(out.subarray(at, Math.min(out.length, at + 65536)));
  return out;
}

/** A copy of public key `pk` whose top bit (ignored by X25519, RFC 7748 §5) is random. */
export function randomizeTopBit(pk: Uint8Array): Uint8Array {
  const out = pk.slice();
  const r = fillRandom(new Uint8Array(1))[0]!;
  out[LINK_KEY_BYTES - 1] = (out[LINK_KEY_BYTES - 1]! & 0x7f) | (r & 0x80);
  return out;
}

/** The canonical form of a public key read off the wire (top bit cleared). */
export function canonicalKey(pk: Uint8Array): Uint8Array {
  const out = pk.slice();
  out[LINK_KEY_BYTES - 1]! &= 0x7f;
  return out;
}

/** The record nonce for `counter` (a safe integer). */
export function linkNonce(counter: number): Uint8Array {
  const n = new Uint8Array(LINK_NONCE_BYTES);
  const v = new DataView(n.buffer);
  v.setUint32(4, Math.floor(counter / 2 ** 32));
  v.setUint32(8, counter >>> 0);
  return n;
}

/** th = SHA-256(label || HELLO frame || CHALLENGE frame). */
export function transcriptHash(helloFrame: Uint8Array, challengeFrame: Uint8Array): Uint8Array {
  return sha256(concatBytes(L_TRANSCRIPT, helloFrame, challengeFrame));
}

/** k_id: the key that seals the client's static public key inside AUTH. */
export function identityKey(th: Uint8Array, ee: Uint8Array): Uint8Array {
  return hkdf(sha256, ee, th, L_ID, LINK_KEY_BYTES);
}

export interface SessionKeys {
  readonly auth: Uint8Array;
  readonly c2p: Uint8Array;
  readonly p2c: Uint8Array;
}

/** The session keys from both key agreements, bound to the transcript. */
export function sessionKeys(th: Uint8Array, ee: Uint8Array, es: Uint8Array): SessionKeys {
  const ikm = concatBytes(ee, es);
  const prk = extract(sha256, ikm, th);
  ikm.fill(0);
  const keys = {
    auth: expand(sha256, prk, L_AUTH, LINK_KEY_BYTES),
    c2p: expand(sha256, prk, L_C2P, LINK_KEY_BYTES),
    p2c: expand(sha256, prk, L_P2C, LINK_KEY_BYTES),
  };
  prk.fill(0);
  return keys;
}

/** proof = HMAC-SHA256(k_auth, th || sealed static key). */
export function linkProof(authKey: Uint8Array, th: Uint8Array, sealedStatic: Uint8Array): Uint8Array {
  return hmac(sha256, authKey, concatBytes(th, sealedStatic));
}

/**
 * Padded plaintext length of each frame type on the link, per direction. Client → provider: SUBMIT carries a
 * packet; PULL and ACK are "control" frames of one size. Provider → client: PULL_REPLY always carries exactly
 * `pullK` packets; AUTH_OK and ERROR are control frames of one size.
 */
export interface LinkSizes {
  readonly toProvider: ReadonlyMap<number, number>;
  readonly toClient: ReadonlyMap<number, number>;
}

export function linkSizes(g: Geometry, pullK: number): LinkSizes {
  const c2pControl = 1 + 2 * REQUEST_ID_BYTES;
  const p2cControl = 1 + 2 + MAX_ERROR_MESSAGE_BYTES;
  return Object.freeze({
    toProvider: new Map([
      [FrameType.SUBMIT, 1 + g.packetBytes],
      // A request-pool deposit has a SUBMIT's size: on the wire the two records look alike.
      [FrameType.POOL, 1 + g.packetBytes],
      [FrameType.PULL, c2pControl],
      [FrameType.ACK, c2pControl],
    ]),
    toClient: new Map([
      [FrameType.PULL_REPLY, 1 + REQUEST_ID_BYTES + pullK * g.packetBytes],
      [FrameType.AUTH_OK, p2cControl],
      [FrameType.ERROR, p2cControl],
    ]),
  });
}

/** Record lengths (padded frame + tag) a receiver accepts, for a direction's size table. */
export function recordLengths(sizes: ReadonlyMap<number, number>): Set<number> {
  return new Set([...sizes.values()].map((n) => n + LINK_TAG_BYTES));
}

/**
 * One direction pair of an established session: seals outgoing frames (padding them to their type's size)
 * and opens incoming records (checking size, tag, counter order and zero padding). Keys are wiped by `wipe`.
 */
export class RecordLayer {
  #sendCounter = 0;
  #recvCounter = 0;
  readonly #recvLengths: Set<number>;

  constructor(
    private readonly sendKey: Uint8Array,
    private readonly recvKey: Uint8Array,
    private readonly sendSizes: ReadonlyMap<number, number>,
    private readonly recvSizes: ReadonlyMap<number, number>,
    private readonly aead: Aead = nobleAead,
  ) {
    this.#recvLengths = recordLengths(recvSizes);
  }

  /** Seals one plaintext frame (type byte first); throws a RangeError for a type or length the link has not. */
  seal(frame: Uint8Array): Uint8Array {
    const size = this.sendSizes.get(frame[0] ?? -1);
    if (size === undefined)
      throw new RangeError(`frame type 0x${(frame[0] ?? 0).toString(16)} is not sent in this direction`);
    if (frame.length > size)
      throw new RangeError(
        `frame of type 0x${frame[0]!.toString(16)} is ${frame.length} bytes, more than its link size ${size}`,
      );
    const padded = new Uint8Array(size);
    padded.set(frame);
    const record = this.aead.seal(this.sendKey, linkNonce(this.#sendCounter++), padded);
    padded.fill(0);
    return record;
  }

  /**
   * Opens one record into its padded plaintext frame, or says why not. Never throws. The counter advances
   * only on success; any failure is fatal for the session (the caller closes it).
   */
  open(record: Uint8Array): { frame: Uint8Array } | { error: 'size' | 'tag' | 'type' | 'padding' } {
    if (!this.#recvLengths.has(record.length)) return { error: 'size' };
    const plain = this.aead.open(this.recvKey, linkNonce(this.#recvCounter), record);
    if (plain === null) return { error: 'tag' };
    this.#recvCounter++;
    const size = this.recvSizes.get(plain[0]!);
    if (size !== plain.length) return { error: 'type' };
    return { frame: plain };
  }

  wipe(): void {
    this.sendKey.fill(0);
    this.recvKey.fill(0);
  }
}

/** The client's half of the handshake: state between HELLO and AUTH. */
export class ClientHandshake {
  readonly hello: Uint8Array;
  #ephemeralSecret: Uint8Array | null;

  /**
   * @param x25519Fn X25519(scalar, point) of the caller's backend (the Sphinx backend, or @noble's).
   */
  constructor(
    private readonly staticSecret: Uint8Array,
    private readonly staticPublic: Uint8Array,
    private readonly x25519Fn: (scalar: Uint8Array, point: Uint8Array) => Uint8Array = (s, p) =>
      x25519.getSharedSecret(s, p),
  ) {
    this.#ephemeralSecret = fillRandom(new Uint8Array(LINK_KEY_BYTES));
    const base = new Uint8Array(LINK_KEY_BYTES);
    base[0] = 9; // the X25519 base point u = 9 (RFC 7748 §4.1)
    const ephemeralPublic = this.x25519Fn(this.#ephemeralSecret, base);
    this.hello = new Uint8Array(1 + LINK_KEY_BYTES);
    this.hello[0] = FrameType.HELLO;
    this.hello.set(randomizeTopBit(ephemeralPublic), 1);
  }

  /**
   * Answers the CHALLENGE frame (raw bytes as received): the AUTH frame and the session's record layer, or
   * null when the provider's key is of low order (an all-zero agreement).
   */
  answer(
    challengeFrame: Uint8Array,
    sizes: LinkSizes,
    aead: Aead = nobleAead,
  ): { auth: Uint8Array; link: RecordLayer } | null {
    const eSecret = this.#ephemeralSecret;
    if (eSecret === null) throw new Error('handshake already answered');
    this.#ephemeralSecret = null;
    const providerEphemeral = challengeFrame.subarray(1 + LINK_KEY_BYTES, 1 + 2 * LINK_KEY_BYTES);
    const th = transcriptHash(this.hello, challengeFrame);
    const ee = this.x25519Fn(eSecret, providerEphemeral);
    const es = this.x25519Fn(this.staticSecret, providerEphemeral);
    eSecret.fill(0);
    if (isAllZero(ee) || isAllZero(es)) return null;
    const kId = identityKey(th, ee);
    const sealedStatic = aead.seal(kId, linkNonce(0), this.staticPublic);
    kId.fill(0);
    const keys = sessionKeys(th, ee, es);
    ee.fill(0);
    es.fill(0);
    const proof = linkProof(keys.auth, th, sealedStatic);
    keys.auth.fill(0);
    const auth = new Uint8Array(1 + SEALED_STATIC_BYTES + LINK_KEY_BYTES);
    auth[0] = FrameType.AUTH;
    auth.set(sealedStatic, 1);
    auth.set(proof, 1 + SEALED_STATIC_BYTES);
    return { auth, link: new RecordLayer(keys.c2p, keys.p2c, sizes.toProvider, sizes.toClient, aead) };
  }
}

/**
 * The provider's check of AUTH: opens the client's sealed static key, derives the session keys and compares the
 * proof in constant time. `agree(peer)` is X25519 with the provider's ephemeral secret (null for an all-zero
 * result). Returns the client's canonical static key and the provider's record layer, or null (any failure:
 * a low-order key, a sealed key that does not open, a wrong proof — indistinguishable to the client).
 */
export function acceptAuth(o: {
  readonly helloFrame: Uint8Array;
  readonly challengeFrame: Uint8Array;
  readonly agree: (peer: Uint8Array) => Uint8Array | null;
  readonly sealedKey: Uint8Array;
  readonly proof: Uint8Array;
  readonly sizes: LinkSizes;
  readonly aead?: Aead;
}): { publicKey: Uint8Array; link: RecordLayer } | null {
  const aead = o.aead ?? nobleAead;
  const th = transcriptHash(o.helloFrame, o.challengeFrame);
  // 1. ee: the ephemeral-ephemeral agreement (forward secrecy; its key hides the client's identity).
  const ee = o.agree(canonicalKey(o.helloFrame.subarray(1, 1 + LINK_KEY_BYTES)));
  if (ee === null || isAllZero(ee)) return null;
  // 2. The client's static key, sealed under k_id.
  const kId = identityKey(th, ee);
  const opened = aead.open(kId, linkNonce(0), o.sealedKey);
  kId.fill(0);
  const publicKey = opened === null || opened.length !== LINK_KEY_BYTES ? null : canonicalKey(opened);
  // 3. es proves possession of the static key; a low-order "key" yields no agreement and is refused.
  const es = publicKey === null ? null : o.agree(publicKey);
  if (publicKey === null || es === null || isAllZero(es)) {
    ee.fill(0);
    return null;
  }
  const keys = sessionKeys(th, ee, es);
  ee.fill(0);
  es.fill(0);
  // 4. Constant-time comparison of the transcript-bound proof.
  const ok = o.proof.length === LINK_KEY_BYTES && equalBytes(linkProof(keys.auth, th, o.sealedKey), o.proof);
  keys.auth.fill(0);
  if (!ok) {
    keys.c2p.fill(0);
    keys.p2c.fill(0);
    return null;
  }
  return { publicKey, link: new RecordLayer(keys.p2c, keys.c2p, o.sizes.toClient, o.sizes.toProvider, aead) };
}

/** Constant-time equality of two byte strings of equal length (false for different lengths). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i]! ^ b[i]!;
  return acc === 0;
}

export { isAllZero };
