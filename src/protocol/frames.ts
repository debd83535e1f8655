/**
 * The client ↔ provider WebSocket protocol (docs/pipeline.md §"Client protocol"): binary frames, one message
 * per frame, first byte the frame type. Encoding and decoding live here so the provider and the client cannot
 * drift apart. `decodeFrame` never throws: a malformed frame decodes to `{ type: 'malformed', reason }`, which
 * the provider answers with an ERROR frame and a close.
 *
 *   HELLO       0x01  client public key (32)                       client → provider
 *   CHALLENGE   0x02  nonce (32) || provider ephemeral X25519 (32) provider → client
 *   AUTH        0x03  proof (32)                                   client → provider
 *   AUTH_OK     0x04  (empty)                                      provider → client
 *   SUBMIT      0x10  one Sphinx packet (packetBytes)              client → provider
 *   PULL        0x20  request id (uint32 BE)                       client → provider
 *   PULL_REPLY  0x21  request id (uint32 BE) || k packets          provider → client
 *   ACK         0x22  request id (uint32 BE)                       client → provider
 *   ERROR       0x7f  code (uint16 BE) || UTF-8 message            provider → client (then close)
 *
 * Authentication (challenge-response, proving possession of the client's X25519 key without a second key
 * type): proof = HMAC-SHA256(X25519(clientSecret, ephemeral), "loopix-auth-v1" || nonce || clientPublicKey).
 * The provider computes the same with X25519(ephemeralSecret, clientPublicKey) and compares in constant time.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CLIENT_FRAME, FORMAT, type Geometry } from '../geometry.js';

export const FrameType = Object.freeze({
  HELLO: 0x01,
  CHALLENGE: 0x02,
  AUTH: 0x03,
  AUTH_OK: 0x04,
  SUBMIT: 0x10,
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
const REQUEST_ID = CLIENT_FRAME.requestIdBytes;

export type Frame =
  | { type: 'hello'; publicKey: Uint8Array }
  | { type: 'challenge'; nonce: Uint8Array; ephemeral: Uint8Array }
  | { type: 'auth'; proof: Uint8Array }
  | { type: 'authOk' }
  | { type: 'submit'; packet: Uint8Array }
  | { type: 'pull'; requestId: number }
  | { type: 'pullReply'; requestId: number; packets: Uint8Array[] }
  | { type: 'ack'; requestId: number }
  | { type: 'error'; code: number; message: string }
  | { type: 'malformed'; reason: string };

function frame(type: number, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0));
  out[0] = type;
  let at = 1;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
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
  hello(publicKey: Uint8Array): Uint8Array {
    need('publicKey', publicKey, KEY);
    return frame(FrameType.HELLO, publicKey);
  },
  challenge(nonce: Uint8Array, ephemeral: Uint8Array): Uint8Array {
    need('nonce', nonce, NONCE);
    need('ephemeral', ephemeral, KEY);
    return frame(FrameType.CHALLENGE, nonce, ephemeral);
  },
  auth(proof: Uint8Array): Uint8Array {
    need('proof', proof, PROOF);
    return frame(FrameType.AUTH, proof);
  },
  authOk(): Uint8Array {
    return frame(FrameType.AUTH_OK);
  },
  submit(g: Geometry, packet: Uint8Array): Uint8Array {
    need('packet', packet, g.packetBytes);
    return frame(FrameType.SUBMIT, packet);
  },
  pull(requestId: number): Uint8Array {
    return frame(FrameType.PULL, u32(requestId));
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
    return frame(FrameType.ERROR, code16, new TextEncoder().encode(message.slice(0, 256)));
  },
};

/** Decodes one frame; never throws. Packets in the result are views into `data`. */
export function decodeFrame(g: Geometry, data: Uint8Array): Frame {
  if (data.length === 0) return { type: 'malformed', reason: 'empty frame' };
  const body = data.subarray(1);
  const exact = (n: number, what: string): string | null => (body.length === n ? null : `${what} frame body must be ${n} bytes, got ${body.length}`);
  const requestId = () => new DataView(body.buffer, body.byteOffset, REQUEST_ID).getUint32(0);
  let err: string | null;
  switch (data[0]) {
    case FrameType.HELLO:
      return (err = exact(KEY, 'HELLO')) ? { type: 'malformed', reason: err } : { type: 'hello', publicKey: body };
    case FrameType.CHALLENGE:
      return (err = exact(NONCE + KEY, 'CHALLENGE'))
        ? { type: 'malformed', reason: err }
        : { type: 'challenge', nonce: body.subarray(0, NONCE), ephemeral: body.subarray(NONCE) };
    case FrameType.AUTH:
      return (err = exact(PROOF, 'AUTH')) ? { type: 'malformed', reason: err } : { type: 'auth', proof: body };
    case FrameType.AUTH_OK:
      return (err = exact(0, 'AUTH_OK')) ? { type: 'malformed', reason: err } : { type: 'authOk' };
    case FrameType.SUBMIT:
      return (err = exact(g.packetBytes, 'SUBMIT')) ? { type: 'malformed', reason: err } : { type: 'submit', packet: body };
    case FrameType.PULL:
      return (err = exact(REQUEST_ID, 'PULL')) ? { type: 'malformed', reason: err } : { type: 'pull', requestId: requestId() };
    case FrameType.ACK:
      return (err = exact(REQUEST_ID, 'ACK')) ? { type: 'malformed', reason: err } : { type: 'ack', requestId: requestId() };
    case FrameType.PULL_REPLY: {
      if (body.length < REQUEST_ID || (body.length - REQUEST_ID) % g.packetBytes !== 0) {
        return { type: 'malformed', reason: `PULL_REPLY body must be ${REQUEST_ID} + k × ${g.packetBytes} bytes, got ${body.length}` };
      }
      const packets: Uint8Array[] = [];
      for (let at = REQUEST_ID; at < body.length; at += g.packetBytes) packets.push(body.subarray(at, at + g.packetBytes));
      return { type: 'pullReply', requestId: requestId(), packets };
    }
    case FrameType.ERROR: {
      if (body.length < 2) return { type: 'malformed', reason: `ERROR frame body must be at least 2 bytes, got ${body.length}` };
      const code = new DataView(body.buffer, body.byteOffset, 2).getUint16(0);
      return { type: 'error', code, message: new TextDecoder().decode(body.subarray(2)) };
    }
    default:
      return { type: 'malformed', reason: `unknown frame type 0x${data[0]!.toString(16).padStart(2, '0')}` };
  }
}

const AUTH_LABEL = new TextEncoder().encode('loopix-auth-v1');

/** proof = HMAC-SHA256(sharedSecret, "loopix-auth-v1" || nonce || clientPublicKey). */
export function authProof(sharedSecret: Uint8Array, nonce: Uint8Array, clientPublicKey: Uint8Array): Uint8Array {
  need('sharedSecret', sharedSecret, KEY);
  need('nonce', nonce, NONCE);
  need('clientPublicKey', clientPublicKey, KEY);
  const msg = new Uint8Array(AUTH_LABEL.length + NONCE + KEY);
  msg.set(AUTH_LABEL);
  msg.set(nonce, AUTH_LABEL.length);
  msg.set(clientPublicKey, AUTH_LABEL.length + NONCE);
  return hmac(sha256, sharedSecret, msg);
}
