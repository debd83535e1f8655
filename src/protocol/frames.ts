/**
 * The client ↔ provider WebSocket protocol (docs/pipeline.md §"Client protocol", docs/packet-format.md
 * §"Client link"): binary frames, one message per frame, first byte the frame type. Encoding and decoding live
 * here so the provider and the client cannot drift apart. `decodeFrame` never throws: a malformed frame decodes
 * to `{ type: 'malformed', reason }`, which the provider answers with an ERROR frame and a close.
 *
 *   HELLO       0x01  client ephemeral X25519 (32)                          client → provider   (clear)
 *   CHALLENGE   0x02  nonce (32) || provider ephemeral X25519 (32)          provider → client   (clear)
 *   AUTH        0x03  sealed client static key (48) || proof (32)           client → provider   (clear)
 *   AUTH_OK     0x04  (empty)                                               provider → client   (record)
 *   SUBMIT      0x10  one Sphinx packet (packetBytes)                       client → provider   (record)
 *   POOL        0x11  one pre-made pull request (packetBytes), for the      client → provider   (record)
 *                     request pool: released one per round (src/postoffice/pool.ts)
 *   PULL        0x20  request id (uint32 BE) || id acknowledged (0 = none)  client → provider   (record)
 *   PULL_REPLY  0x21  request id (uint32 BE) || k packets                   provider → client   (record)
 *   ACK         0x22  request id (uint32 BE)                                client → provider   (record)
 *   ERROR       0x7f  code (uint16 BE) || UTF-8 message                     provider → client   (clear before
 *                                                                           AUTH_OK, record after; then close)
 *
 * After the handshake every frame travels as an encrypted, padded record (src/protocol/channel.ts); `unpad`
 * turns a record's padded plaintext back into the frame `decodeFrame` reads.
 */
import { concatBytes } from '@noble/hashes/utils.js';
import { CLIENT_FRAME, FORMAT, type Geometry } from '../geometry.js';

export const FrameType = Object.freeze({
  HELLO: 0x01,
  CHALLENGE: 0x02,
  AUTH: 0x03,
  AUTH_OK: 0x04,
  SUBMIT: 0x10,
  POOL: 0x11,
  PULL: 0x20,
  PULL_REPLY: 0x21,
  ACK: 0x22,
  ERROR: 0x7f,
} as const);

/** Stable error codes carried by ERROR frames. */
export const ErrorCode = Object.freeze({
  MALFORMED: 1,
  UNEXPECTED: 2,
  AUTH_FAILED: 3,
  AUTH_TIMEOUT: 4,
  NOT_REGISTERED: 5,
  TOO_LARGE: 6,
  RATE_LIMITED: 7,
  TOO_MANY_CONNECTIONS: 8,
  INTERNAL: 9,
} as const);
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

const KEY = FORMAT.keyBytes;
const NONCE = CLIENT_FRAME.nonceBytes;
const PROOF = CLIENT_FRAME.proofBytes;
/** The client's static key sealed with ChaCha20-Poly1305 (key + tag), src/protocol/channel.ts. */
const SEALED_KEY = CLIENT_FRAME.sealedKeyBytes;
const REQUEST_ID = CLIENT_FRAME.requestIdBytes;
export const REQUEST_ID_BYTES = REQUEST_ID;

export type Frame =
  | { type: 'hello'; ephemeral: Uint8Array }
  | { type: 'challenge'; nonce: Uint8Array; ephemeral: Uint8Array }
  | { type: 'auth'; sealedKey: Uint8Array; proof: Uint8Array }
  | { type: 'authOk' }
  | { type: 'submit'; packet: Uint8Array }
  | { type: 'pool'; packet: Uint8Array }
  | { type: 'pull'; requestId: number; ackId: number }
  | { type: 'pullReply'; requestId: number; packets: Uint8Array[] }
  | { type: 'ack'; requestId: number }
  | { type: 'error'; code: number; message: string }
  | { type: 'malformed'; reason: string };

function frame(type: number, ...parts: Uint8Array[]): Uint8Array {
  return concatBytes(Uint8Array.of(type), ...parts);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(REQUEST_ID);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

function need(name: string, value: Uint8Array, length: number): void {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
}

export const encode = {
  hello(ephemeral: Uint8Array): Uint8Array {
    need('ephemeral', ephemeral, KEY);
    return frame(FrameType.HELLO, ephemeral);
  },
  challenge(nonce: Uint8Array, ephemeral: Uint8Array): Uint8Array {
    need('nonce', nonce, NONCE);
    need('ephemeral', ephemeral, KEY);
    return frame(FrameType.CHALLENGE, nonce, ephemeral);
  },
  auth(sealedKey: Uint8Array, proof: Uint8Array): Uint8Array {
    need('sealedKey', sealedKey, SEALED_KEY);
    need('proof', proof, PROOF);
    return frame(FrameType.AUTH, sealedKey, proof);
  },
  authOk(): Uint8Array {
    return frame(FrameType.AUTH_OK);
  },
  submit(g: Geometry, packet: Uint8Array): Uint8Array {
    need('packet', packet, g.packetBytes);
    return frame(FrameType.SUBMIT, packet);
  },
  /** A pull request for the provider's request pool; the same length as a SUBMIT, so records cannot tell them apart. */
  pool(g: Geometry, packet: Uint8Array): Uint8Array {
    need('packet', packet, g.packetBytes);
    return frame(FrameType.POOL, packet);
  },
  /** PULL `requestId`, acknowledging reply `ackId` first (0: nothing to acknowledge). */
  pull(requestId: number, ackId = 0): Uint8Array {
    return frame(FrameType.PULL, u32(requestId), u32(ackId));
  },
  pullReply(g: Geometry, requestId: number, packets: readonly Uint8Array[]): Uint8Array {
    packets.forEach((p, i) => need(`packets[${i}]`, p, g.packetBytes));
    return frame(FrameType.PULL_REPLY, u32(requestId), ...packets);
  },
  ack(requestId: number): Uint8Array {
    return frame(FrameType.ACK, u32(requestId));
  },
  error(code: ErrorCodeValue, message: string): Uint8Array {
    const code16 = new Uint8Array(2);
    new DataView(code16.buffer).setUint16(0, code);
    // At most MAX_ERROR_BYTES of UTF-8 (a record's control size), cut at a character boundary; no NUL (padding).
    let text = new TextEncoder().encode(message.replace(/\0/g, ' '));
    if (text.length > MAX_ERROR_BYTES)
      text = new TextEncoder().encode(
        new TextDecoder().decode(text.subarray(0, MAX_ERROR_BYTES)).replace(/\uFFFD$/, ''),
      );
    return frame(FrameType.ERROR, code16, text.subarray(0, MAX_ERROR_BYTES));
  },
};

/** Decodes one frame; never throws. Packets in the result are views into `data`. */
export function decodeFrame(g: Geometry, data: Uint8Array): Frame {
  if (data.length === 0) return { type: 'malformed', reason: 'empty frame' };
  const body = data.subarray(1);
  const exact = (n: number, what: string): string | null =>
    body.length === n ? null : `${what} frame body must be ${n} bytes, got ${body.length}`;
  const requestId = (at = 0) => new DataView(body.buffer, body.byteOffset + at, REQUEST_ID).getUint32(0);
  let err: string | null;
  switch (data[0]) {
    case FrameType.HELLO:
      return (err = exact(KEY, 'HELLO')) ? { type: 'malformed', reason: err } : { type: 'hello', ephemeral: body };
    case FrameType.CHALLENGE:
      return (err = exact(NONCE + KEY, 'CHALLENGE'))
        ? { type: 'malformed', reason: err }
        : { type: 'challenge', nonce: body.subarray(0, NONCE), ephemeral: body.subarray(NONCE) };
    case FrameType.AUTH:
      return (err = exact(SEALED_KEY + PROOF, 'AUTH'))
        ? { type: 'malformed', reason: err }
        : { type: 'auth', sealedKey: body.subarray(0, SEALED_KEY), proof: body.subarray(SEALED_KEY) };
    case FrameType.AUTH_OK:
      return (err = exact(0, 'AUTH_OK')) ? { type: 'malformed', reason: err } : { type: 'authOk' };
    case FrameType.SUBMIT:
      return (err = exact(g.packetBytes, 'SUBMIT'))
        ? { type: 'malformed', reason: err }
        : { type: 'submit', packet: body };
    case FrameType.POOL:
      return (err = exact(g.packetBytes, 'POOL')) ? { type: 'malformed', reason: err } : { type: 'pool', packet: body };
    case FrameType.PULL:
      return (err = exact(2 * REQUEST_ID, 'PULL'))
        ? { type: 'malformed', reason: err }
        : { type: 'pull', requestId: requestId(), ackId: requestId(REQUEST_ID) };
    case FrameType.ACK:
      return (err = exact(REQUEST_ID, 'ACK'))
        ? { type: 'malformed', reason: err }
        : { type: 'ack', requestId: requestId() };
    case FrameType.PULL_REPLY: {
      if (body.length < REQUEST_ID || (body.length - REQUEST_ID) % g.packetBytes !== 0) {
        return {
          type: 'malformed',
          reason: `PULL_REPLY body must be ${REQUEST_ID} + k × ${g.packetBytes} bytes, got ${body.length}`,
        };
      }
      const packets: Uint8Array[] = [];
      for (let at = REQUEST_ID; at < body.length; at += g.packetBytes)
        packets.push(body.subarray(at, at + g.packetBytes));
      return { type: 'pullReply', requestId: requestId(), packets };
    }
    case FrameType.ERROR: {
      if (body.length < 2)
        return { type: 'malformed', reason: `ERROR frame body must be at least 2 bytes, got ${body.length}` };
      const code = new DataView(body.buffer, body.byteOffset, 2).getUint16(0);
      return { type: 'error', code, message: new TextDecoder().decode(body.subarray(2)) };
    }
    default:
      return { type: 'malformed', reason: `unknown frame type 0x${data[0]!.toString(16).padStart(2, '0')}` };
  }
}

/** Longest ERROR message in bytes (fits the link's control record, src/protocol/channel.ts). */
export const MAX_ERROR_BYTES = CLIENT_FRAME.maxErrorBytes;

/** Natural length of a frame of `type` whose body has a fixed length; undefined for ERROR / unknown types. */
function naturalLength(g: Geometry, type: number, pullK: number): number | undefined {
  switch (type) {
    case FrameType.AUTH_OK:
      return 1;
    case FrameType.SUBMIT:
    case FrameType.POOL:
      return 1 + g.packetBytes;
    case FrameType.PULL:
      return 1 + 2 * REQUEST_ID;
    case FrameType.ACK:
      return 1 + REQUEST_ID;
    case FrameType.PULL_REPLY:
      return 1 + REQUEST_ID + pullK * g.packetBytes;
    default:
      return undefined;
  }
}

/**
 * A record's padded plaintext back to its frame: the padding beyond the frame's natural length must be zero
 * (an ERROR message ends at its first zero byte). Returns null when the padding is not zero. Never throws.
 */
export function unpad(g: Geometry, pullK: number, padded: Uint8Array): Uint8Array | null {
  const type = padded[0];
  if (type === undefined) return null;
  let end = naturalLength(g, type, pullK);
  if (end === undefined) {
    if (type !== FrameType.ERROR) return padded;
    end = padded.indexOf(0, 3);
    if (end < 0) end = padded.length;
  }
  if (end > padded.length) return null;
  let acc = 0;
  for (let i = end; i < padded.length; i++) acc |= padded[i]!;
  return acc === 0 ? padded.subarray(0, end) : null;
}
