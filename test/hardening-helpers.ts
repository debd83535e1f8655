/**
 * Shared by the provider hardening tests: a raw WebSocket peer that speaks the client protocol frame by frame
 * (src/protocol/frames.ts), and polling helpers. Keys are X25519 through @noble/curves, independent of the
 * provider's Sphinx backend.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { x25519 } from '@noble/curves/ed25519.js';
import WebSocket from 'ws';
import type { Geometry } from '../src/geometry.js';
import { ClientHandshake, linkSizes, type RecordLayer } from '../src/protocol/channel.js';
import { decodeFrame, encode, unpad, type Frame } from '../src/protocol/frames.js';

export interface Keys {
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function keys(secret: Uint8Array = x25519.utils.randomSecretKey()): Keys {
  return { secret, publicKey: x25519.getPublicKey(secret) };
}

/** A `ws` client with a queue of decoded frames and the close it ended with. */
export class RawPeer {
  readonly ws: WebSocket;
  readonly #frames: Frame[] = [];
  readonly #waiters: ((f: Frame | null) => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  isClosed = false;
  /** The encrypted link once the handshake answered; frames sent and received go through it. */
  link: RecordLayer | null = null;

  constructor(
    url: string,
    private readonly g: Geometry,
    /** Packets per pull reply of the provider (sizes the link's records). */
    private readonly pullK = 4,
  ) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 << 20 });
    this.ws.binaryType = 'nodebuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        this.isClosed = true;
        for (const w of this.#waiters.splice(0)) w(null);
        resolve({ code, reason: reason.toString() });
      }),
    );
    this.ws.on('error', () => {});
    this.ws.on('message', (data: Buffer) => {
      let bytes: Uint8Array | null = new Uint8Array(data);
      if (this.link) {
        const opened = this.link.open(bytes);
        const clear = decodeFrame(this.g, bytes);
        bytes = 'frame' in opened ? unpad(this.g, this.pullK, opened.frame) : clear.type === 'error' ? bytes : null;
      }
      const f: Frame = bytes ? decodeFrame(this.g, bytes) : { type: 'malformed', reason: 'record does not open' };
      const w = this.#waiters.shift();
      if (w) w(f);
      else this.#frames.push(f);
    });
  }

  /** The next frame; null once the connection closed with none queued, or after `timeoutMs`. */
  next(timeoutMs = 5000): Promise<Frame | null> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(null);
      }, timeoutMs);
      const done = (frame: Frame | null) => {
        clearTimeout(t);
        resolve(frame);
      };
      this.#waiters.push(done);
    });
  }

  /** Frames received and not yet taken. */
  get queued(): number {
    return this.#frames.length;
  }

  /** Sends a frame: sealed as a record once the link is up (strings and `raw` bypass it). */
  send(data: Uint8Array | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(typeof data !== 'string' && this.link ? this.link.seal(data) : data);
  }

  /** Sends bytes exactly as given (no record layer). */
  sendRaw(data: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** HELLO → CHALLENGE → AUTH; the provider's answer (AUTH_OK or ERROR, null on close). */
  async authenticate(k: Keys, tamper?: (auth: Uint8Array) => void): Promise<Frame | null> {
    await this.opened;
    const hs = new ClientHandshake(k.secret, k.publicKey);
    let challengeBytes: Uint8Array | null = null;
    this.ws.once('message', (d: Buffer) => (challengeBytes = new Uint8Array(d)));
    this.sendRaw(hs.hello);
    const challenge = await this.next();
    if (challenge?.type !== 'challenge' || challengeBytes === null) return challenge;
    const answer = hs.answer(challengeBytes, linkSizes(this.g, this.pullK));
    if (answer === null) return null;
    tamper?.(answer.auth);
    this.sendRaw(answer.auth);
    this.link = answer.link;
    return this.next();
  }

  /** PULL(id) → the reply's packets (copied); throws on anything else. */
  async pull(requestId: number, timeoutMs = 5000): Promise<Uint8Array[]> {
    this.send(encode.pull(requestId));
    const reply = await this.next(timeoutMs);
    if (reply?.type !== 'pullReply' || reply.requestId !== requestId)
      throw new Error(`expected PULL_REPLY ${requestId}, got ${JSON.stringify(reply)}`);
    return reply.packets.map((p) => p.slice());
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export { sleep };

/** Polls `check` every `everyMs` until it returns a non-undefined value or `timeoutMs` passed. */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 50,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await sleep(everyMs);
  }
}
