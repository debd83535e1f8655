/**
 * The post office wire contract (AnonPoP §4 "push" and "pull"; docs/packet-format.md "Post office requests").
 *
 * A post office (PO) is a provider that also serves anonymous mailboxes. A request reaches it as an ordinary
 * forward Sphinx packet whose LAST hop is the PO itself with routing command FINAL: the PO unwraps its layer,
 * the payload's zero prefix is checked (integrity) and the replay tag goes through the node's replay filter
 * like every other packet, and the C content bytes are the request below. The FINAL address field (A bytes)
 * is reserved and must be all zero. All lengths come from the Geometry g and POST_OFFICE (src/geometry.ts):
 *
 *   request (C = g.contentBytes bytes)
 *     op         POST_OFFICE.opBytes (1)          0x01 PUSH, 0x02 PULL
 *     mailbox    POST_OFFICE.mailboxIdBytes (16)  HKDF(secret, mailbox epoch), src/postoffice/mailbox.ts
 *     body       E = C − op − mailbox bytes       (1,007 in the default geometry)
 *
 *   PUSH body  = one sealed envelope (E bytes, below), stored as is under the mailbox id.
 *   PULL body  = one SURB (g.surbBytes: first hop || header || SURB key) || zero padding to E bytes. The SURB's
 *                first hop must be the PO (it sends the answer itself, entering the network as a first hop)
 *                and the SURB leads to the recipient's own inbox at its provider (docs/packet-format.md §7).
 *                A non-zero padding byte means a pull longer than a pull is: dropped as po_pull_oversized.
 *
 *   answer (the content of the SURB reply, E bytes): the oldest stored envelope of the mailbox, or E uniformly
 *   random bytes when the mailbox is empty. The SURB reply's LIONESS layers hide which from everyone but the
 *   recipient, who tells them apart only by the envelope's AEAD tag. Exactly one answer per pull.
 *
 *   sealed envelope (E bytes), end to end from sender to recipient (the PO sees only this):
 *     ephemeral  g.publicKeyBytes (32)             the sender's fresh X25519 public key
 *     ciphertext E − 32 − tag                      ChaCha20-Poly1305, key = HKDF-SHA256(ikm = X25519(e, pk),
 *                                                  salt = ephemeral || pk, info = ENVELOPE_INFO), nonce = 0
 *                                                  (the key is single-use)
 *     tag        POST_OFFICE.envelopeTagBytes (16)
 *   plaintext (E − 32 − tag = 959 bytes in the default geometry):
 *     message id POST_OFFICE.messageIdBytes (16)   sender-chosen, the recipient drops duplicates
 *     sent at    POST_OFFICE.sentAtBytes (8)       sender wall clock, ms since 1970, uint64 BE
 *     length     POST_OFFICE.lengthBytes (2)       uint16 BE, ≤ messageCapacity
 *     bytes || zero padding to messageCapacity     (611 in the default geometry)
 *     SURB-ack   g.surbBytes (322)                 built by the sender, first hop = the recipient's provider
 *                                                  (named by the address), ending in the sender's inbox; the
 *                                                  recipient answers an ACK frame (src/client/frames.ts) of
 *                                                  (message id, index 0) through it. All zero: no ack wanted.
 *   The SURB-ack sits at the end so an envelope without one is byte-identical to the layout before it existed.
 *
 * decodeRequest never throws: bad input is an `invalid` result with the drop reason to count.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { LoopixError } from '../errors.js';
import { POST_OFFICE, type Geometry } from '../geometry.js';

export const PoOp = Object.freeze({ PUSH: 0x01, PULL: 0x02 } as const);

const ENVELOPE_INFO = new TextEncoder().encode('loopix-po-envelope-v1');

/** The lengths a post office request of geometry g has (all derived from g and POST_OFFICE). */
export interface PoLayout {
  /** C: one request is one packet's content. */
  readonly requestBytes: number;
  /** Offset of the body: op + mailbox id. */
  readonly bodyOffset: number;
  /** E: a sealed envelope, a PUSH body, a PULL body and a pull answer all have this length. */
  readonly envelopeBytes: number;
  /** Plaintext bytes inside an envelope. */
  readonly plaintextBytes: number;
  /** Largest message one envelope carries. */
  readonly messageCapacity: number;
  /** Offset of the SURB-ack in the plaintext (its last g.surbBytes bytes). */
  readonly ackSurbOffset: number;
}

const layouts = new WeakMap<Geometry, PoLayout>();

/** The layout of g; throws ERR_LOOPIX_PO_GEOMETRY when a PULL's SURB or a message does not fit. */
export function poLayout(g: Geometry): PoLayout {
  const cached = layouts.get(g);
  if (cached) return cached;
  const P = POST_OFFICE;
  const bodyOffset = P.opBytes + P.mailboxIdBytes;
  const envelopeBytes = g.contentBytes - bodyOffset;
  const plaintextBytes = envelopeBytes - g.publicKeyBytes - P.envelopeTagBytes;
  const ackSurbOffset = plaintextBytes - g.surbBytes;
  const messageCapacity = ackSurbOffset - P.messageIdBytes - P.sentAtBytes - P.lengthBytes;
  if (envelopeBytes < g.surbBytes || messageCapacity < 1) {
    throw new LoopixError(
      'ERR_LOOPIX_PO_GEOMETRY',
      `geometry: contentBytes ${g.contentBytes} leaves a post office body of ${envelopeBytes} bytes, which must hold a SURB (${g.surbBytes} bytes) and an envelope of a SURB-ack and at least one message byte`,
      { field: 'geometry.contentBytes' },
    );
  }
  const layout = Object.freeze({
    requestBytes: g.contentBytes,
    bodyOffset,
    envelopeBytes,
    plaintextBytes,
    messageCapacity,
    ackSurbOffset,
  });
  layouts.set(g, layout);
  return layout;
}

export type PoRequest =
  | { readonly kind: 'push'; readonly mailboxId: Uint8Array; readonly envelope: Uint8Array }
  | { readonly kind: 'pull'; readonly mailboxId: Uint8Array; readonly surb: Uint8Array }
  | { readonly kind: 'invalid'; readonly reason: 'po_malformed' | 'po_pull_oversized' };

function need(name: string, value: Uint8Array, length: number): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new LoopixError(
      'ERR_LOOPIX_PO_FIELD',
      `${name} must be ${length} bytes, got ${value instanceof Uint8Array ? value.length : typeof value}`,
      { field: name },
    );
  }
}

function request(g: Geometry, op: number, mailboxId: Uint8Array, body: Uint8Array): Uint8Array {
  const L = poLayout(g);
  need('mailboxId', mailboxId, POST_OFFICE.mailboxIdBytes);
  const out = new Uint8Array(L.requestBytes);
  out[0] = op;
  out.set(mailboxId, POST_OFFICE.opBytes);
  out.set(body, L.bodyOffset);
  return out;
}

/** The C content bytes of a PUSH of `envelope` (E bytes, sealEnvelope) into `mailboxId`. */
export function encodePush(g: Geometry, mailboxId: Uint8Array, envelope: Uint8Array): Uint8Array {
  need('envelope', envelope, poLayout(g).envelopeBytes);
  return request(g, PoOp.PUSH, mailboxId, envelope);
}

/** The C content bytes of a PULL of `mailboxId` whose answer travels through `surb` (g.surbBytes). */
export function encodePull(g: Geometry, mailboxId: Uint8Array, surb: Uint8Array): Uint8Array {
  need('surb', surb, g.surbBytes);
  return request(g, PoOp.PULL, mailboxId, surb);
}

/** Decodes what a FINAL hop at a post office carries; never throws. Results view `content`. */
export function decodeRequest(g: Geometry, finalAddress: Uint8Array, content: Uint8Array): PoRequest {
  const L = poLayout(g);
  if (content.length !== L.requestBytes || finalAddress.length !== g.addressBytes)
    return { kind: 'invalid', reason: 'po_malformed' };
  for (let i = 0; i < finalAddress.length; i++)
    if (finalAddress[i] !== 0) return { kind: 'invalid', reason: 'po_malformed' };
  const mailboxId = content.subarray(POST_OFFICE.opBytes, L.bodyOffset);
  const body = content.subarray(L.bodyOffset);
  switch (content[0]) {
    case PoOp.PUSH:
      return { kind: 'push', mailboxId, envelope: body };
    case PoOp.PULL: {
      for (let i = g.surbBytes; i < body.length; i++)
        if (body[i] !== 0) return { kind: 'invalid', reason: 'po_pull_oversized' };
      return { kind: 'pull', mailboxId, surb: body.subarray(0, g.surbBytes) };
    }
    default:
      return { kind: 'invalid', reason: 'po_malformed' };
  }
}

/** What a pull answers with: the stored envelope, or (none stored) E random bytes of the same length. */
export function answerContent(g: Geometry, stored: Uint8Array | undefined): Uint8Array {
  const E = poLayout(g).envelopeBytes;
  if (stored) {
    need('stored envelope', stored, E);
    return stored;
  }
  return crypto.getRandomValues(new Uint8Array(E));
}

export interface PoMessage {
  /** POST_OFFICE.messageIdBytes bytes. */
  readonly messageId: Uint8Array;
  /** Sender wall clock at send(), ms since 1970. */
  readonly sentAtMs: number;
  readonly bytes: Uint8Array;
  /** The sender's SURB-ack (g.surbBytes), absent when the sender wants no acknowledgement. */
  readonly ackSurb?: Uint8Array;
}

/** X25519 as the Sphinx backend provides it (OpenSSL in Node, @noble elsewhere). */
export interface X25519 {
  x25519(scalar: Uint8Array, point: Uint8Array): Uint8Array;
  x25519Base(scalar: Uint8Array): Uint8Array;
}

function envelopeKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  const salt = new Uint8Array(ephemeral.length + recipient.length);
  salt.set(ephemeral);
  salt.set(recipient, ephemeral.length);
  return hkdf(sha256, shared, salt, ENVELOPE_INFO, POST_OFFICE.envelopeKeyBytes);
}

/**
 * Seals `m` for the holder of `recipientPublicKey` (E bytes). `ephemeralSecret` (32 bytes) only for
 * known-answer tests; fresh random otherwise. Throws ERR_LOOPIX_PO_MESSAGE when the message does not fit.
 */
export function sealEnvelope(
  g: Geometry,
  x: X25519,
  recipientPublicKey: Uint8Array,
  m: PoMessage,
  ephemeralSecret?: Uint8Array,
): Uint8Array {
  const L = poLayout(g);
  const P = POST_OFFICE;
  need('recipientPublicKey', recipientPublicKey, g.publicKeyBytes);
  need('messageId', m.messageId, P.messageIdBytes);
  if (m.bytes.length > L.messageCapacity) {
    throw new LoopixError(
      'ERR_LOOPIX_PO_MESSAGE',
      `a message to an anonymous address must be at most ${L.messageCapacity} bytes (one envelope), got ${m.bytes.length}`,
      { field: 'bytes' },
    );
  }
  if (!Number.isSafeInteger(m.sentAtMs) || m.sentAtMs < 0)
    throw new LoopixError('ERR_LOOPIX_PO_FIELD', `sentAtMs must be a non-negative integer, got ${m.sentAtMs}`, {
      field: 'sentAtMs',
    });
  const plain = new Uint8Array(L.plaintextBytes);
  plain.set(m.messageId, 0);
  const view = new DataView(plain.buffer);
  view.setBigUint64(P.messageIdBytes, BigInt(m.sentAtMs));
  view.setUint16(P.messageIdBytes + P.sentAtBytes, m.bytes.length);
  plain.set(m.bytes, P.messageIdBytes + P.sentAtBytes + P.lengthBytes);
  if (m.ackSurb) {
    need('ackSurb', m.ackSurb, g.surbBytes);
    plain.set(m.ackSurb, L.ackSurbOffset);
  }
  const secret = ephemeralSecret ?? crypto.getRandomValues(new Uint8Array(g.privateKeyBytes));
  need('ephemeralSecret', secret, g.privateKeyBytes);
  const ephemeral = x.x25519Base(secret);
  const shared = x.x25519(secret, recipientPublicKey);
  const key = envelopeKey(shared, ephemeral, recipientPublicKey);
  const sealed = chacha20poly1305(key, new Uint8Array(P.envelopeNonceBytes)).encrypt(plain);
  shared.fill(0);
  key.fill(0);
  if (!ephemeralSecret) secret.fill(0);
  const out = new Uint8Array(L.envelopeBytes);
  out.set(ephemeral, 0);
  out.set(sealed, g.publicKeyBytes);
  return out;
}

/** Opens an envelope with the mailbox's key pair; null when it is not one for us (a dummy answer, tampering). */
export function openEnvelope(
  g: Geometry,
  x: X25519,
  privateKey: Uint8Array,
  publicKey: Uint8Array,
  envelope: Uint8Array,
): PoMessage | null {
  const L = poLayout(g);
  const P = POST_OFFICE;
  if (envelope.length !== L.envelopeBytes) return null;
  const ephemeral = envelope.subarray(0, g.publicKeyBytes);
  let plain: Uint8Array;
  let shared: Uint8Array | undefined;
  let key: Uint8Array | undefined;
  try {
    shared = x.x25519(privateKey, ephemeral);
    key = envelopeKey(shared, ephemeral, publicKey);
    plain = chacha20poly1305(key, new Uint8Array(P.envelopeNonceBytes)).decrypt(envelope.subarray(g.publicKeyBytes));
  } catch {
    return null; // tag mismatch, or a small-order point (x25519 refuses an all-zero secret)
  } finally {
    shared?.fill(0);
    key?.fill(0);
  }
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  const length = view.getUint16(P.messageIdBytes + P.sentAtBytes);
  if (length > L.messageCapacity) return null;
  const start = P.messageIdBytes + P.sentAtBytes + P.lengthBytes;
  const ackSurb = plain.slice(L.ackSurbOffset);
  return {
    messageId: plain.slice(0, P.messageIdBytes),
    sentAtMs: Number(view.getBigUint64(P.messageIdBytes)),
    bytes: plain.slice(start, start + length),
    ...(ackSurb.some((b) => b !== 0) ? { ackSurb } : {}),
  };
}
