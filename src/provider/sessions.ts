/**
 * One client connection's state machine (docs/pipeline.md §"Client protocol"; Loopix §3.2 "Message storing
 * and retrieving"), independent of the WebSocket library: the server hands it frames and a `SessionConnection`
 * to answer on.
 *
 *   awaitHello ──HELLO(pk)──▶ awaitAuth ──AUTH(proof ok, registered)──▶ authenticated ──(SUBMIT|PULL|ACK)*
 *        │                        │                                          │
 *        └───── anything else, a timeout, a bad proof, a malformed/oversized/text frame ─▶ ERROR + closed
 *
 * Authentication proves possession of the client's X25519 key and sets up the encrypted link
 * (src/protocol/channel.ts): the provider draws a fresh ephemeral key and a 32-byte nonce per connection, opens
 * the client's static key sealed inside AUTH, and checks the transcript-bound proof in constant time. From
 * AUTH_OK on, every frame in both directions is a padded ChaCha20-Poly1305 record; a record that does not
 * open (size, tag, counter, padding) closes the session (`ws_bad_record`).
 *
 * Isolation by construction: the only inbox a session ever touches is `clientIdOf(publicKey)` of the key that
 * passed the challenge; no frame carries a client id, so there is nothing to name another client's inbox with.
 *
 * Rate limits (src/provider/limits.ts): once authenticated, each SUBMIT and PULL is charged to the client's
 * token buckets; a frame over the limit is dropped and counted (`ws_submit_throttled`, `ws_pull_throttled`),
 * and a client that stays over it gets ERROR(RATE_LIMITED) and a close (`ws_rate_limited`).
 *
 * A PULL is answered with exactly `pullK` packets of `packetBytes` each: the oldest stored packets, then
 * dummies laid out like a stored packet (src/provider/dummies.ts: version and epoch prefix, a real X25519
 * public key as α, random bytes after it). Stored packets leave the inbox only on the ACK of the reply that
 * carried them (an ACK frame, or the ack id of the next PULL); the deletion itself runs off the reply path in
 * batches (src/provider/deferred-removal.ts). An unacknowledged packet is served again by the next pull, so a
 * lost reply loses nothing.
 */
import { createPublicKey, diffieHellman, generateKeyPairSync, getRandomValues } from 'node:crypto';
import { clientIdOf } from '../address.js';
import { CLIENT_FRAME, type Geometry } from '../geometry.js';
import {
  acceptAuth,
  isAllZero,
  linkSizes,
  randomizeTopBit,
  type Aead,
  type LinkSizes,
  type RecordLayer,
} from '../protocol/channel.js';
import { decodeFrame, encode, ErrorCode, unpad, type ErrorCodeValue } from '../protocol/frames.js';
import type { DeferredRemoval } from './deferred-removal.js';
import type { ClientBuckets, ClientLimiter } from './limits.js';
import type { ClientFrontEndOptions } from './types.js';

/** What a session needs from its WebSocket. `end` must be safe to call more than once. */
export interface SessionConnection {
  /** Sends one binary frame; false when the connection is closed or the frame was dropped. */
  send(frame: Uint8Array): boolean;
  /** Closes gracefully (WebSocket close frame with `code` and `reason`). */
  end(code: number, reason: string): void;
}

/** One connection's ephemeral X25519 key pair (RFC 7748), used for a single key agreement. */
export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  /** X25519(ephemeralSecret, peerPublicKey); null when the peer key is of low order (all-zero result). */
  agree(peerPublicKey: Uint8Array): Uint8Array | null;
}

/**
 * Ephemeral keys from Node's own crypto (the OpenSSL Node ships): ~0.1 ms per authentication, and independent
 * of the Sphinx backend. OpenSSL refuses a derivation whose result is all-zero (a low-order peer key).
 */
export function nodeEphemeralKey(): EphemeralKey {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  return {
    publicKey: new Uint8Array(Buffer.from(x, 'base64url')),
    agree(peer: Uint8Array): Uint8Array | null {
      try {
        const peerKey = createPublicKey({
          key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peer).toString('base64url') },
          format: 'jwk',
        });
        const shared = new Uint8Array(diffieHellman({ privateKey, publicKey: peerKey }));
        return isAllZero(shared) ? null : shared;
      } catch {
        return null;
      }
    },
  };
}

/** Everything shared by the sessions of one front end. */
export interface SessionContext {
  readonly geometry: Geometry;
  readonly pullK: number;
  readonly registration: 'open' | 'closed';
  /** Lowercase hex of the public keys allowed when registration is closed. */
  readonly allowedClients: ReadonlySet<string>;
  readonly maxFrameBytes: number;
  readonly authTimeoutMs: number;
  readonly inbox: ClientFrontEndOptions['inbox'];
  readonly ingress: ClientFrontEndOptions['ingress'];
  /** The request pool, when the network has a post office (ClientFrontEndOptions.pool). */
  readonly pool?: ClientFrontEndOptions['pool'];
  readonly count: ClientFrontEndOptions['count'];
  readonly log: ClientFrontEndOptions['log'];
  /** Draws a fresh ephemeral key per connection (default in the server: nodeEphemeralKey). */
  readonly ephemeralKey: () => EphemeralKey;
  /** Per-client SUBMIT / PULL rate limits (src/provider/limits.ts); none when absent. */
  readonly limiter?: ClientLimiter;
  /** Monotonic clock for the rate limits, ms (default performance.now). */
  readonly now?: () => number;
  /** ChaCha20-Poly1305 of the link (default @noble's; the server passes Node's, src/provider/node-aead.ts). */
  readonly aead?: Aead;
  /** Builds one dummy packet (default: random bytes; the server passes src/provider/dummies.ts's). */
  readonly dummy?: () => Uint8Array;
  /** Batched, deferred deletion of acknowledged packets (default: delete at once, on the reply path). */
  readonly removal?: DeferredRemoval;
}

/** Pull replies whose stored ids are remembered until acknowledged; older ones are forgotten (re-served later). */
export const MAX_OUTSTANDING_PULLS = 64;

/** WebSocket close codes (RFC 6455 §7.4.1) used after an ERROR frame. */
export const CloseCode = Object.freeze({
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
} as const);

export type SessionState = 'awaitHello' | 'awaitAuth' | 'authenticated' | 'closed';

const NONCE_BYTES = CLIENT_FRAME.nonceBytes;
/** crypto.getRandomValues fills at most this many bytes per call. */
const RANDOM_CHUNK = 65536;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += RANDOM_CHUNK) getRandomValues(out.subarray(at, Math.min(n, at + RANDOM_CHUNK)));
  return out;
}

export class ClientSession {
  #state: SessionState = 'awaitHello';
  #publicKey: Uint8Array | null = null;
  #clientId: Uint8Array | null = null;
  #ephemeral: EphemeralKey | null = null;
  #nonce: Uint8Array | null = null;
  /** Raw HELLO and CHALLENGE frames (the transcript), between HELLO and AUTH. */
  #hello: Uint8Array | null = null;
  #challenge: Uint8Array | null = null;
  /** The encrypted link once authenticated. */
  #link: RecordLayer | null = null;
  readonly #sizes: LinkSizes;
  #timer: NodeJS.Timeout | null = null;
  /** The client's rate-limit buckets while authenticated (shared with its other connections). */
  #buckets: ClientBuckets | null = null;
  #limiterKey: string | null = null;
  /** requestId → storage ids of the stored packets that went into that PULL_REPLY. */
  readonly #outstanding = new Map<number, number[]>();

  constructor(
    private readonly ctx: SessionContext,
    private readonly conn: SessionConnection,
  ) {
    ctx.count('ws_connections');
    this.#sizes = linkSizes(ctx.geometry, ctx.pullK);
    this.#timer = setTimeout(() => this.#onAuthTimeout(), ctx.authTimeoutMs);
    this.#timer.unref();
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The authenticated client's inbox id (clientIdOf its public key), null before authentication. */
  get clientId(): Uint8Array | null {
    return this.#clientId;
  }

  get publicKey(): Uint8Array | null {
    return this.#publicKey;
  }

  /**
   * One incoming WebSocket message. `data` is only valid during this call (uWS neuters it afterwards): all
   * that is kept is copied. Never throws.
   */
  onMessage(data: Uint8Array, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    try {
      this.#handle(data, isBinary);
    } catch (err) {
      this.ctx.count('ws_internal_error');
      this.ctx.log.error({ err, state: this.#state }, 'client session: internal error');
      this.#fail(ErrorCode.INTERNAL, 'internal error', CloseCode.INTERNAL_ERROR);
    }
  }

  /** The connection is gone (either side). Never throws. */
  onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#release();
  }

  /** Server shutdown: close without an ERROR frame. */
  shutdown(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#release();
    this.conn.end(CloseCode.GOING_AWAY, 'provider shutting down');
  }

  #handle(data: Uint8Array, isBinary: boolean): void {
    const ctx = this.ctx;
    if (data.length > ctx.maxFrameBytes) {
      ctx.count('ws_too_large');
      this.#fail(
        ErrorCode.TOO_LARGE,
        `frame of ${data.length} bytes exceeds ${ctx.maxFrameBytes}`,
        CloseCode.MESSAGE_TOO_BIG,
      );
      return;
    }
    if (!isBinary) {
      ctx.count('ws_text_frame');
      this.#fail(ErrorCode.MALFORMED, 'text frames are not part of the protocol', CloseCode.UNSUPPORTED_DATA);
      return;
    }
    let plain = data;
    if (this.#link !== null) {
      // 0. After AUTH every frame is a record: open it (size, tag, counter), then strip its padding.
      const opened = this.#link.open(data);
      const unpadded = 'frame' in opened ? unpad(ctx.geometry, ctx.pullK, opened.frame) : null;
      if (unpadded === null) {
        ctx.count('ws_bad_record');
        this.#fail(
          ErrorCode.MALFORMED,
          `record does not open (${'error' in opened ? opened.error : 'padding'})`,
          CloseCode.PROTOCOL_ERROR,
        );
        return;
      }
      plain = unpadded;
    }
    const frame = decodeFrame(ctx.geometry, plain);
    if (frame.type === 'malformed') {
      ctx.count('ws_malformed');
      this.#fail(ErrorCode.MALFORMED, frame.reason, CloseCode.PROTOCOL_ERROR);
      return;
    }
    switch (this.#state) {
      case 'awaitHello':
        if (frame.type === 'hello') return this.#onHello(plain);
        break;
      case 'awaitAuth':
        if (frame.type === 'auth') return this.#onAuth(frame.sealedKey, frame.proof);
        break;
      case 'authenticated':
        if (frame.type === 'submit') return this.#onSubmit(frame.packet);
        if (frame.type === 'pool' && this.ctx.pool) return this.#onPool(frame.packet);
        if (frame.type === 'pull') {
          if (frame.ackId !== 0) this.#onAck(frame.ackId);
          return this.#onPull(frame.requestId);
        }
        if (frame.type === 'ack') return this.#onAck(frame.requestId);
        break;
    }
    ctx.count('ws_unexpected');
    this.#fail(
      ErrorCode.UNEXPECTED,
      `${frame.type} frame not allowed in state ${this.#state}`,
      CloseCode.POLICY_VIOLATION,
    );
  }

  #onHello(helloFrame: Uint8Array): void {
    // A copy: it views a buffer uWS reclaims after this callback.
    this.#hello = helloFrame.slice();
    this.#ephemeral = this.ctx.ephemeralKey();
    this.#nonce = randomBytes(NONCE_BYTES);
    this.#challenge = encode.challenge(this.#nonce, randomizeTopBit(this.#ephemeral.publicKey));
    this.#state = 'awaitAuth';
    this.conn.send(this.#challenge);
  }

  #onAuth(sealedKey: Uint8Array, proof: Uint8Array): void {
    const ctx = this.ctx;
    const ephemeral = this.#ephemeral!;
    this.#ephemeral = null; // used for this one handshake only
    const accepted = acceptAuth({
      helloFrame: this.#hello!,
      challengeFrame: this.#challenge!,
      agree: (peer) => ephemeral.agree(peer),
      sealedKey,
      proof,
      sizes: this.#sizes,
      ...(ctx.aead ? { aead: ctx.aead } : {}),
    });
    this.#hello = this.#challenge = null;
    if (accepted === null) {
      ctx.count('ws_auth_failed');
      this.#fail(ErrorCode.AUTH_FAILED, 'authentication failed', CloseCode.POLICY_VIOLATION);
      return;
    }
    const { publicKey, link } = accepted;
    // Registration, checked only after the proof so that it is no oracle for who is registered. From here on
    // every frame, an ERROR included, is a record.
    this.#link = link;
    this.#publicKey = publicKey;
    const keyHex = Buffer.from(publicKey).toString('hex');
    if (ctx.registration === 'closed' && !ctx.allowedClients.has(keyHex)) {
      ctx.count('ws_not_registered');
      this.#fail(
        ErrorCode.NOT_REGISTERED,
        'client key is not registered with this provider',
        CloseCode.POLICY_VIOLATION,
      );
      return;
    }
    const clientId = clientIdOf(ctx.geometry, publicKey);
    ctx.inbox.register?.(clientId);
    this.#clientId = clientId;
    this.#state = 'authenticated';
    if (ctx.limiter) {
      this.#limiterKey = keyHex;
      this.#buckets = ctx.limiter.attach(keyHex);
    }
    this.#clearTimer();
    ctx.count('ws_auth_ok');
    this.#send(encode.authOk());
  }

  /** Sends one frame: as a record once the link is up, in the clear before. */
  #send(frame: Uint8Array): boolean {
    return this.conn.send(this.#link ? this.#link.seal(frame) : frame);
  }

  /** Charges one frame to the client's bucket; false when the frame must be dropped (or the session closed). */
  #admit(kind: 'submit' | 'pull'): boolean {
    const bucket = this.#buckets?.[kind];
    if (!bucket) return true;
    const verdict = bucket.take(this.ctx.now ? this.ctx.now() : performance.now());
    if (verdict === 'ok') return true;
    this.ctx.count(`ws_${kind}_throttled`);
    if (verdict === 'exceeded') {
      this.ctx.count('ws_rate_limited');
      this.#fail(
        ErrorCode.RATE_LIMITED,
        `${kind.toUpperCase()} rate above ${+bucket.perS.toPrecision(4)}/s (burst ${bucket.capacity}) for too long`,
        CloseCode.POLICY_VIOLATION,
      );
    }
    return false;
  }

  #onSubmit(packet: Uint8Array): void {
    if (!this.#admit('submit')) return;
    this.ctx.count('ws_submit');
    // Copy: the pipeline keeps the packet beyond this callback.
    this.ctx.ingress.submit(packet.slice());
  }

  /** A pre-made pull request for the request pool; charged to the SUBMIT bucket (it takes a drop-cover slot). */
  #onPool(packet: Uint8Array): void {
    if (!this.#admit('submit')) return;
    const key = Buffer.from(this.#clientId!).toString('hex');
    // Copy: the pool keeps the packet beyond this callback.
    if (this.ctx.pool!(key, packet.slice())) this.ctx.count('po_pool_deposits');
    else this.ctx.count('po_pool_full');
  }

  #onPull(requestId: number): void {
    // A throttled PULL gets no reply: the client library never has two pulls outstanding, so only a client
    // pulling faster than the schedule (Loopix §3.2) is affected; its pull times out.
    if (!this.#admit('pull')) return;
    const { geometry: g, pullK, inbox, removal } = this.ctx;
    const stored = removal ? removal.fetch(this.#clientId!, pullK) : inbox.fetch(this.#clientId!, pullK);
    const packets: Uint8Array[] = stored.map((s) => s.packet);
    const dummies = pullK - packets.length;
    for (let i = 0; i < dummies; i++) packets.push(this.ctx.dummy ? this.ctx.dummy() : randomBytes(g.packetBytes));
    // Remember which stored rows this reply carried; a reused request id replaces (and renews) its entry.
    this.#outstanding.delete(requestId);
    if (stored.length > 0) {
      this.#outstanding.set(
        requestId,
        stored.map((s) => s.id),
      );
      if (this.#outstanding.size > MAX_OUTSTANDING_PULLS) {
        this.#outstanding.delete(this.#outstanding.keys().next().value!);
        this.ctx.count('ws_pull_forgotten');
      }
    }
    this.ctx.count('ws_pulls');
    if (stored.length > 0) this.ctx.count('ws_pull_stored', stored.length);
    if (dummies > 0) this.ctx.count('ws_pull_dummies', dummies);
    this.#send(encode.pullReply(g, requestId, packets));
  }

  #onAck(requestId: number): void {
    this.ctx.count('ws_acks');
    const ids = this.#outstanding.get(requestId);
    if (ids === undefined) {
      // A reply of dummies only, or one already acknowledged / forgotten: nothing to delete — but the same
      // bookkeeping as for stored packets, so that the two ACKs cost the same.
      this.ctx.count('ws_ack_empty');
      this.ctx.removal?.remove(this.#clientId!, []);
      return;
    }
    this.#outstanding.delete(requestId);
    if (this.ctx.removal) this.ctx.removal.remove(this.#clientId!, ids);
    else this.ctx.inbox.remove(this.#clientId!, ids);
    this.ctx.count('ws_acked_packets', ids.length);
  }

  #onAuthTimeout(): void {
    this.#timer = null;
    if (this.#state !== 'awaitHello' && this.#state !== 'awaitAuth') return;
    try {
      this.ctx.count('ws_auth_timeout');
      this.#fail(
        ErrorCode.AUTH_TIMEOUT,
        `not authenticated within ${this.ctx.authTimeoutMs} ms`,
        CloseCode.POLICY_VIOLATION,
      );
    } catch (err) {
      this.ctx.count('ws_internal_error');
      this.ctx.log.error({ err }, 'client session: auth timeout handler failed');
    }
  }

  /** ERROR frame, then close; the session is closed from here on. */
  #fail(code: ErrorCodeValue, message: string, closeCode: number): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#send(encode.error(code, message));
    this.#release();
    this.conn.end(closeCode, message.slice(0, 100)); // a close reason holds at most 123 bytes
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #release(): void {
    this.#clearTimer();
    this.#ephemeral = null;
    this.#hello = this.#challenge = null;
    this.#link?.wipe();
    this.#link = null;
    this.#outstanding.clear();
    if (this.#limiterKey !== null) {
      this.ctx.limiter?.release(this.#limiterKey);
      this.#limiterKey = null;
      this.#buckets = null;
    }
  }
}
