/**
 * The client's WebSocket session with its provider (docs/pipeline.md "Client protocol", src/protocol/frames.ts,
 * src/protocol/channel.ts):
 *
 *   HELLO(e_c) → CHALLENGE(nonce, e_p) → AUTH(sealed static key, proof) → AUTH_OK (first encrypted record)
 *   then SUBMIT packets at will and PULL(id, ack) every pullIntervalMs (one outstanding at a time), all as
 *   encrypted, padded records. A PULL_REPLY's packets are acknowledged by the ack id of the NEXT scheduled
 *   PULL, never right after processing: the time at which an ACK leaves would otherwise tell an observer how
 *   long processing took, i.e. whether the reply held real packets (Loopix §4.1.2). On stop, a pending ACK
 *   goes out as an ACK record of the same size as a PULL.
 *
 * When the connection drops (provider restart, network, ERROR frame + close) it reconnects by itself with
 * exponential backoff and jitter; the backoff resets after a successful authentication.
 *
 * Runtime-neutral: the WebSocket itself comes from an injected factory (`WebSocketFactory`) speaking the
 * WHATWG WebSocket API — the `ws` package in Node (src/client/node.ts), the browser's own WebSocket in a
 * browser (src/browser/). Both put the same bytes on the wire: one binary message per frame or record.
 */
import type { Geometry } from '../geometry.js';
import { ClientHandshake, linkSizes, type LinkSizes, type RecordLayer } from '../protocol/channel.js';
import { decodeFrame, encode, ErrorCode, unpad } from '../protocol/frames.js';
import { cryptoUniform, systemScheduler, type RandomSource, type Scheduler, type TimerHandle } from './streams.js';

/** What the client needs from a way to reach its provider (the WebSocket session, or a test double). */
export interface ClientTransport {
  /** Authenticated and able to take packets right now. */
  readonly connected: boolean;
  start(): void;
  stop(): Promise<void>;
  /** Sends one packet (geometry.packetBytes) as the packet's first hop; false when not connected. */
  submit(packet: Uint8Array): boolean;
  /** Deposits one pre-made pull request in the provider's request pool (POOL frame); false when not connected. */
  submitPool?(packet: Uint8Array): boolean;
}

/** WebSocket readyState values (WHATWG WebSocket API). */
export const WS_CONNECTING = 0;
export const WS_OPEN = 1;
export const WS_CLOSED = 3;

/**
 * The part of the WHATWG WebSocket API the session uses. The browser's WebSocket and the `ws` package's
 * client both satisfy it. `binaryType` is set to 'arraybuffer', so a binary message arrives as an ArrayBuffer
 * and a text message as a string (refused: the provider speaks binary only).
 */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  addEventListener(type: 'close', listener: (event: { readonly code: number; readonly reason: string }) => void): void;
  /** Drops the connection at once, without the closing handshake (the `ws` package has it; a browser does not). */
  terminate?(): void;
}

/** What the session asks of a new WebSocket besides its URL (a browser cannot set these: see docs/client-api.md). */
export interface WebSocketLimits {
  /** Largest message the provider may send (its largest PULL_REPLY record), bytes. */
  readonly maxPayloadBytes: number;
  /** Opening handshake deadline, ms. */
  readonly handshakeTimeoutMs: number;
}

/** Opens a WebSocket to `url` (ws:// or wss://). */
export type WebSocketFactory = (url: string, limits: WebSocketLimits) => WebSocketLike;

export interface LogLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: LogLike = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

export interface BackoffOptions {
  /** First reconnect delay, ms (default 100). */
  readonly initialMs?: number;
  /** Largest reconnect delay, ms (default 10 000). */
  readonly maxMs?: number;
}

export interface ProviderConnectionOptions {
  /** The provider's ws:// URL (its topology entry's `ws`). */
  readonly url: string;
  /** Opens the WebSocket: `nodeWebSocket` (src/client/node.ts) in Node, `browserWebSocket` (src/browser/) in a browser. */
  readonly webSocket: WebSocketFactory;
  readonly geometry: Geometry;
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
  /** X25519 of the process's SphinxBackend. */
  readonly x25519: (scalar: Uint8Array, point: Uint8Array) => Uint8Array;
  readonly pullIntervalMs: number;
  /** Packets per pull reply (sizes the largest frame accepted). */
  readonly pullK: number;
  /**
   * Called with the (copied, caller-owned) packets of each PULL_REPLY; the ACK goes out after it returns or
   * its promise resolves. If it throws, no ACK is sent and the provider will offer the packets again.
   */
  readonly onPackets: (packets: Uint8Array[]) => void | Promise<void>;
  readonly onConnected?: () => void;
  readonly onDisconnected?: (reason: string) => void;
  /** An ERROR frame from the provider (it closes the connection after sending one). */
  readonly onErrorFrame?: (code: number, message: string) => void;
  readonly backoff?: BackoffOptions;
  /** Close and reconnect when authentication has not finished after this long (default 10 000 ms). */
  readonly handshakeTimeoutMs?: number;
  /** Close and reconnect when a PULL is unanswered this long (default max(10 000, 5 × pullIntervalMs)). */
  readonly pullTimeoutMs?: number;
  readonly scheduler?: Scheduler;
  readonly random?: RandomSource;
  readonly log?: LogLike;
}

export interface ConnectionStats {
  connect_attempts: number;
  authenticated: number;
  disconnects: number;
  pulls_sent: number;
  pull_replies: number;
  packets_pulled: number;
  acks_sent: number;
  packets_submitted: number;
  /** Keyed by the ErrorCode name (or `code_<n>`), plus `malformed` / `unexpected` frames from the provider. */
  errors: Record<string, number>;
}

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k.toLowerCase()]));

type State = 'idle' | 'connecting' | 'hello_sent' | 'auth_sent' | 'ready';

export class ProviderConnection implements ClientTransport {
  private readonly o: ProviderConnectionOptions;
  private readonly scheduler: Scheduler;
  private readonly random: RandomSource;
  private readonly log: LogLike;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly pullTimeoutMs: number;
  private ws: WebSocketLike | undefined;
  private state: State = 'idle';
  private running = false;
  private attempt = 0;
  private reconnectTimer: TimerHandle | undefined;
  private handshakeTimer: TimerHandle | undefined;
  private pullTimer: TimerHandle | undefined;
  private nextPullAt = 0;
  private nextRequestId = 1;
  private outstanding: { id: number; at: number } | undefined;
  /** A processed reply whose ACK rides on the next PULL. */
  private ackDue: number | undefined;
  private handshake: ClientHandshake | undefined;
  private link: RecordLayer | undefined;
  private readonly sizes: LinkSizes;
  private readonly connectedWaiters: Array<() => void> = [];
  readonly stats: ConnectionStats = {
    connect_attempts: 0,
    authenticated: 0,
    disconnects: 0,
    pulls_sent: 0,
    pull_replies: 0,
    packets_pulled: 0,
    acks_sent: 0,
    packets_submitted: 0,
    errors: {},
  };

  constructor(o: ProviderConnectionOptions) {
    if (!/^wss?:\/\//.test(o.url))
      throw new RangeError(`url must be a ws:// or wss:// URL, got ${JSON.stringify(o.url)}`);
    if (o.publicKey.length !== 32) throw new RangeError(`publicKey must be 32 bytes, got ${o.publicKey.length}`);
    if (o.privateKey.length !== 32) throw new RangeError(`privateKey must be 32 bytes, got ${o.privateKey.length}`);
    this.o = o;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? cryptoUniform;
    this.log = o.log ?? silentLog;
    this.initialBackoffMs = o.backoff?.initialMs ?? 100;
    this.maxBackoffMs = Math.max(this.initialBackoffMs, o.backoff?.maxMs ?? 10_000);
    this.handshakeTimeoutMs = o.handshakeTimeoutMs ?? 10_000;
    this.pullTimeoutMs = o.pullTimeoutMs ?? Math.max(10_000, 5 * o.pullIntervalMs);
    this.sizes = linkSizes(o.geometry, o.pullK);
  }

  get connected(): boolean {
    return this.state === 'ready' && this.ws?.readyState === WS_OPEN;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  /** Resolves once authenticated (immediately if already); rejects after `timeoutMs`. */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.connectedWaiters.indexOf(done);
        if (i >= 0) this.connectedWaiters.splice(i, 1);
        reject(new Error(`not connected to ${this.o.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.connectedWaiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clearTimer('reconnectTimer');
    this.clearTimer('handshakeTimer');
    this.clearTimer('pullTimer');
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WS_CLOSED) return;
    if (this.ackDue !== undefined && this.connected) {
      this.sendFrame(ws, encode.ack(this.ackDue));
      this.stats.acks_sent++;
      this.ackDue = undefined;
    }
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(force);
        resolve();
      };
      // A browser WebSocket has no terminate(): after 1 s we stop waiting for its close event.
      const force = setTimeout(() => {
        ws.terminate?.();
        finish();
      }, 1000);
      ws.addEventListener('close', finish);
      if (ws.readyState === WS_CONNECTING) this.drop(ws);
      else ws.close(1000, 'client stopping');
    });
  }

  submit(packet: Uint8Array): boolean {
    if (!this.connected) return false;
    this.sendFrame(this.ws!, encode.submit(this.o.geometry, packet));
    this.stats.packets_submitted++;
    return true;
  }

  submitPool(packet: Uint8Array): boolean {
    if (!this.connected) return false;
    this.sendFrame(this.ws!, encode.pool(this.o.geometry, packet));
    this.stats.packets_submitted++;
    return true;
  }

  // --- connection lifecycle -------------------------------------------------------------------------------

  /** Sends one frame: sealed as a record once the link is up. */
  private sendFrame(ws: WebSocketLike, frame: Uint8Array): void {
    ws.send(this.link ? this.link.seal(frame) : frame);
  }

  private clearTimer(name: 'reconnectTimer' | 'handshakeTimer' | 'pullTimer'): void {
    const t = this[name];
    if (t !== undefined) this.scheduler.clearTimer(t);
    this[name] = undefined;
  }

  private connect(): void {
    if (!this.running) return;
    this.stats.connect_attempts++;
    this.state = 'connecting';
    this.outstanding = undefined;
    this.ackDue = undefined;
    this.link?.wipe();
    this.link = undefined;
    let ws: WebSocketLike;
    try {
      ws = this.o.webSocket(this.o.url, {
        maxPayloadBytes: Math.max(...this.sizes.toClient.values()) + 1024,
        handshakeTimeoutMs: this.handshakeTimeoutMs,
      });
    } catch (err) {
      // A browser throws at once for a URL it refuses (e.g. ws:// from an https:// page): retry with backoff.
      this.log.warn(
        { url: this.o.url, err: err instanceof Error ? err.message : String(err) },
        'cannot open a WebSocket to the provider',
      );
      this.state = 'idle';
      return this.scheduleReconnect();
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.handshakeTimer = this.scheduler.setTimer(() => {
      this.handshakeTimer = undefined;
      if (this.ws === ws && this.state !== 'ready') this.abort(ws, 'handshake timeout');
    }, this.handshakeTimeoutMs);
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.state = 'hello_sent';
      this.handshake = new ClientHandshake(this.o.privateKey, this.o.publicKey, this.o.x25519);
      ws.send(this.handshake.hello);
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      if (!(event.data instanceof ArrayBuffer)) return this.abort(ws, 'text frame from provider');
      this.onFrame(ws, new Uint8Array(event.data));
    });
    ws.addEventListener('error', (event) => {
      if (this.ws === ws)
        this.log.debug(
          { err: (event as { message?: string }).message ?? 'error event', url: this.o.url },
          'provider connection error',
        );
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.onClosed(`closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`);
    });
  }

  private abort(ws: WebSocketLike, why: string): void {
    this.log.warn({ url: this.o.url, why }, 'closing provider connection');
    this.drop(ws);
  }

  /**
   * Ends a connection at once: terminate() where there is one (`ws`); in a browser, close() and forget the
   * socket right away, so nothing more it delivers is processed and the reconnect does not wait for its close.
   */
  private drop(ws: WebSocketLike): void {
    if (ws.terminate) return ws.terminate();
    ws.close();
    if (this.ws === ws) this.onClosed('closed by the client');
  }

  private onClosed(reason: string): void {
    const wasReady = this.state === 'ready';
    this.state = 'idle';
    this.ws = undefined;
    this.outstanding = undefined;
    this.ackDue = undefined; // the packets are offered again on the next connection
    this.handshake = undefined;
    this.link?.wipe();
    this.link = undefined;
    this.clearTimer('handshakeTimer');
    this.clearTimer('pullTimer');
    if (wasReady) {
      this.stats.disconnects++;
      this.log.info({ url: this.o.url, reason }, 'provider connection lost');
      this.o.onDisconnected?.(reason);
    }
    if (!this.running) return;
    this.scheduleReconnect();
  }

  /** The next connection attempt, after an exponential backoff with jitter. */
  private scheduleReconnect(): void {
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** Math.min(this.attempt, 30));
    const delay = base / 2 + (base / 2) * this.random();
    this.attempt++;
    this.log.debug({ url: this.o.url, delayMs: Math.round(delay), attempt: this.attempt }, 'reconnecting');
    this.reconnectTimer = this.scheduler.setTimer(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private countError(name: string): void {
    this.stats.errors[name] = (this.stats.errors[name] ?? 0) + 1;
  }

  private onFrame(ws: WebSocketLike, data: Uint8Array): void {
    let plain: Uint8Array | null = data;
    if (this.link) {
      const opened = this.link.open(data);
      plain = 'frame' in opened ? unpad(this.o.geometry, this.o.pullK, opened.frame) : null;
      // A failed authentication is answered in the clear: the provider has no session keys then.
      if (plain === null && this.state === 'auth_sent' && decodeFrame(this.o.geometry, data).type === 'error')
        plain = data;
      if (plain === null) {
        this.countError('bad_record');
        return this.abort(ws, `record from provider does not open (${'error' in opened ? opened.error : 'padding'})`);
      }
    }
    const f = decodeFrame(this.o.geometry, plain);
    switch (f.type) {
      case 'error': {
        const name = ERROR_NAMES.get(f.code) ?? `code_${f.code}`;
        this.countError(name);
        this.log.warn({ url: this.o.url, code: f.code, name, message: f.message }, 'provider sent ERROR');
        this.o.onErrorFrame?.(f.code, f.message);
        return; // the provider closes the connection; 'close' schedules the reconnect
      }
      case 'challenge': {
        if (this.state !== 'hello_sent' || !this.handshake) break;
        const answer = this.handshake.answer(plain, this.sizes);
        this.handshake = undefined;
        if (answer === null) return this.abort(ws, 'provider sent a low-order ephemeral key');
        ws.send(answer.auth);
        // The provider's next frame (AUTH_OK, or an ERROR after the proof) is already a record.
        this.link = answer.link;
        this.state = 'auth_sent';
        return;
      }
      case 'authOk': {
        if (this.state !== 'auth_sent') break;
        this.state = 'ready';
        this.attempt = 0;
        this.stats.authenticated++;
        this.clearTimer('handshakeTimer');
        this.log.info({ url: this.o.url }, 'authenticated with provider');
        this.nextPullAt = this.scheduler.now();
        this.schedulePull();
        for (const w of this.connectedWaiters.splice(0)) w();
        this.o.onConnected?.();
        return;
      }
      case 'pullReply': {
        if (this.state !== 'ready' || !this.outstanding || f.requestId !== this.outstanding.id) break;
        this.stats.pull_replies++;
        this.stats.packets_pulled += f.packets.length;
        const id = f.requestId;
        const packets = f.packets.map((p) => p.slice());
        void this.process(ws, id, packets);
        return;
      }
      case 'malformed':
        this.countError('malformed');
        return this.abort(ws, `malformed frame: ${f.reason}`);
      default:
        break;
    }
    this.countError('unexpected');
    this.abort(ws, `unexpected ${f.type} frame in state ${this.state}`);
  }

  private async process(ws: WebSocketLike, id: number, packets: Uint8Array[]): Promise<void> {
    try {
      await this.o.onPackets(packets);
    } catch (err) {
      this.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'processing pulled packets failed; not acknowledging',
      );
      return;
    }
    if (this.ws !== ws || this.state !== 'ready' || this.outstanding?.id !== id) return;
    // The ACK leaves with the next scheduled PULL (see the module comment).
    this.ackDue = id;
    this.outstanding = undefined;
  }

  /** Pulls on a fixed schedule: one PULL per pullIntervalMs while none is outstanding. */
  private schedulePull(): void {
    this.pullTimer = this.scheduler.setTimer(
      () => {
        this.pullTimer = undefined;
        const ws = this.ws;
        if (!ws || this.state !== 'ready') return;
        const now = this.scheduler.now();
        if (this.outstanding) {
          if (now - this.outstanding.at > this.pullTimeoutMs)
            return this.abort(ws, `PULL ${this.outstanding.id} unanswered for ${this.pullTimeoutMs} ms`);
        } else {
          const id = this.nextRequestId;
          this.nextRequestId = (this.nextRequestId + 1) >>> 0 || 1;
          this.outstanding = { id, at: now };
          const ack = this.ackDue ?? 0;
          this.ackDue = undefined;
          this.sendFrame(ws, encode.pull(id, ack));
          if (ack !== 0) this.stats.acks_sent++;
          this.stats.pulls_sent++;
        }
        this.nextPullAt += this.o.pullIntervalMs;
        if (this.nextPullAt < now - this.o.pullIntervalMs) this.nextPullAt = now;
        this.schedulePull();
      },
      Math.max(0, this.nextPullAt - this.scheduler.now()),
    );
  }
}
