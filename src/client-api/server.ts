/**
 * The local client API (docs/client-api.md): a WebSocket server on the loopback interface through which a
 * program in any language uses one running LoopixClient — send, selfAddress, openMailbox, incoming `received` frames,
 * error frames — while the client keeps its three Poisson streams going. Messages from the API enter the
 * same FIFO send buffer as library calls, so the packet rate on the wire stays λP + λL + λD (Loopix §3.2):
 * the API adds no traffic pattern of its own.
 *
 * Served by `ws` (the Node WebSocket library the client already uses; one local peer or a few need nothing
 * faster). Defenses, each because the API has no authentication of its own:
 * - it binds to loopback only unless told otherwise (bind.ts);
 * - it refuses WebSocket handshakes that carry an Origin header not explicitly allowed, so a web page the
 *   user happens to visit cannot script the API from the browser (browsers always send Origin; native
 *   programs normally do not);
 * - frames over `maxFrameBytes` get an error frame and a close (1009), so a local peer cannot make the
 *   server buffer without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseAddress } from '../address.js';
import { isAnonymousAddress, parseAnonymousAddress } from '../postoffice/mailbox.js';
import type { ReceivedMessage } from '../client/client.js';
import { silentLog, type LogLike } from '../client/connection.js';
import type { Geometry } from '../geometry.js';
import { checkBindHost } from './bind.js';
import {
  ApiErrorCode,
  encodeEvent,
  parseBinaryRequest,
  parseJsonRequest,
  type ApiEvent,
  type ApiRequest,
  type Framing,
} from './protocol.js';

/** Default TCP port (Nym's client API uses 1977; the next one avoids a clash when both run). */
export const DEFAULT_API_PORT = 1978;

/** What the server needs of a client: LoopixClient satisfies it. */
export interface ApiClient {
  readonly address: string;
  readonly geometry: Geometry;
  readonly params: { readonly maxMessageBytes: number };
  send(to: string, bytes: Uint8Array): Promise<string>;
  messages(): AsyncIterable<ReceivedMessage>;
  /** Present once the client can attach reply SURBs; the API answers ERR_LOOPIX_API_NOT_SUPPORTED without it. */
  sendAnonymous?(to: string, bytes: Uint8Array, replySurbs: number): Promise<string>;
  /** Present once the client can answer through a received SURB (by the message's sender tag). */
  reply?(senderTag: string, bytes: Uint8Array): Promise<string>;
  /** A new anonymous mailbox (a loopixpo1: address) at `postOfficeId` or the topology's first post office. */
  openMailbox?(postOfficeId?: string): string;
}

export interface ClientApiServerOptions {
  readonly client: ApiClient;
  /** Default 127.0.0.1. A non-loopback host is refused unless allowOffHost. */
  readonly host?: string;
  /** Default DEFAULT_API_PORT; 0 picks a free port. */
  readonly port?: number;
  readonly allowOffHost?: boolean;
  /** Browser origins (e.g. http://localhost:5173) allowed to connect; any other Origin header is refused. */
  readonly allowedOrigins?: readonly string[];
  /**
   * Largest frame accepted, bytes (default: a JSON send of params.maxMessageBytes in base64, plus 4 KiB).
   * A larger frame gets an error frame and a close with 1009.
   */
  readonly maxFrameBytes?: number;
  /** Received messages kept while no application is connected, for the next one (default 1000). */
  readonly backlogMessages?: number;
  /** Bytes queued to one application before further `received` frames to it are dropped (default 16 MiB). */
  readonly maxBufferedBytes?: number;
  readonly log?: LogLike;
}

export interface ClientApiStats {
  connections: number;
  connections_total: number;
  /** Handshakes refused because of their Origin header. */
  refused_origin: number;
  requests: Record<string, number>;
  errors: Record<string, number>;
  received_delivered: number;
  /** Received while no application was connected and pushed out of the full backlog. */
  received_dropped_backlog: number;
  /** `received` frames not sent to an application that was not reading (its send buffer over the limit). */
  received_dropped_slow: number;
  backlog: number;
}

interface Connection {
  readonly ws: WebSocket;
  readonly framing: Framing;
}

export class ClientApiServer {
  readonly maxFrameBytes: number;
  private readonly client: ApiClient;
  private readonly log: LogLike;
  private readonly backlogLimit: number;
  private readonly maxBufferedBytes: number;
  private readonly allowedOrigins: ReadonlySet<string>;
  private server: WebSocketServer | undefined;
  private readonly connections = new Set<Connection>();
  private readonly backlog: ReceivedMessage[] = [];
  private pump: Promise<void> | undefined;
  private stopped = false;
  private readonly counters: ClientApiStats = {
    connections: 0,
    connections_total: 0,
    refused_origin: 0,
    requests: {},
    errors: {},
    received_delivered: 0,
    received_dropped_backlog: 0,
    received_dropped_slow: 0,
    backlog: 0,
  };

  constructor(private readonly o: ClientApiServerOptions) {
    checkBindHost(o.host ?? '127.0.0.1', o.allowOffHost === true);
    this.client = o.client;
    this.log = o.log ?? silentLog;
    // base64 is 4/3 of the bytes; 4 KiB leaves room for the address, the id and the JSON punctuation.
    this.maxFrameBytes = o.maxFrameBytes ?? Math.ceil(o.client.params.maxMessageBytes / 3) * 4 + 4096;
    this.backlogLimit = o.backlogMessages ?? 1000;
    this.maxBufferedBytes = o.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.allowedOrigins = new Set(o.allowedOrigins ?? []);
  }

  /** Listens, starts forwarding received messages; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number; url: string }> {
    const host = this.o.host ?? '127.0.0.1';
    const server = new WebSocketServer({
      host,
      port: this.o.port ?? DEFAULT_API_PORT,
      perMessageDeflate: false,
      // ws itself closes (1009) frames over twice our limit before buffering them; between the two limits
      // we answer with an error frame first.
      maxPayload: 2 * this.maxFrameBytes,
      verifyClient: (
        info: { origin: string; req: IncomingMessage },
        done: (ok: boolean, code?: number, message?: string) => void,
      ) => {
        const origin = info.req.headers.origin;
        if (origin === undefined || this.allowedOrigins.has(origin)) return done(true);
        this.counters.refused_origin++;
        this.log.warn({ origin }, 'client API: refused a connection from a browser origin that is not allowed');
        done(false, 403, 'Origin not allowed');
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('error', (err) => this.log.error({ err: err.message }, 'client API server error'));
    server.on('connection', (ws, req) => this.accept(ws, req));
    this.server = server;
    this.pump ??= this.forwardReceived();
    const { port } = server.address() as AddressInfo;
    const shown = host.includes(':') ? `[${host}]` : host;
    return { host, port, url: `ws://${shown}:${port}` };
  }

  /** Closes every connection and the listener (the client itself is the caller's to stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.connections) c.ws.close(1001, 'client API shutting down');
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.connections) c.ws.terminate();
  }

  stats(): ClientApiStats {
    return {
      ...this.counters,
      requests: { ...this.counters.requests },
      errors: { ...this.counters.errors },
      connections: this.connections.size,
      backlog: this.backlog.length,
    };
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const format = new URL(req.url ?? '/', 'ws://localhost').searchParams.get('format');
    const framing: Framing = format === 'binary' ? 'binary' : 'json';
    const conn: Connection = { ws, framing };
    this.connections.add(conn);
    this.counters.connections_total++;
    ws.on('close', () => this.connections.delete(conn));
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'client API connection error'));
    ws.on('message', (data: Buffer, isBinary: boolean) => void this.onFrame(conn, data, isBinary));
    if (format !== null && format !== 'json' && format !== 'binary') {
      this.emit(
        conn,
        {
          type: 'error',
          id: undefined,
          code: ApiErrorCode.invalidField,
          message: `format must be json or binary, got ${JSON.stringify(format)}; using json`,
          field: 'format',
        },
        'json',
      );
    }
    // The first application to connect gets what arrived while none was.
    for (const m of this.backlog.splice(0)) this.deliverTo(conn, m);
  }

  private async onFrame(conn: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    const framing: Framing = isBinary ? 'binary' : 'json';
    if (data.length > this.maxFrameBytes) {
      this.countError(ApiErrorCode.frameTooLarge);
      this.emit(
        conn,
        {
          type: 'error',
          id: undefined,
          code: ApiErrorCode.frameTooLarge,
          message: `frame of ${data.length} bytes is over the limit of ${this.maxFrameBytes} bytes; closing`,
        },
        framing,
      );
      conn.ws.close(1009, 'frame too large');
      return;
    }
    const parsed = isBinary ? parseBinaryRequest(data) : parseJsonRequest(data.toString('utf8'));
    if (!parsed.ok) {
      this.countError(parsed.error.code);
      const { framing: f, ...error } = parsed.error;
      this.emit(conn, { type: 'error', ...error }, f);
      return;
    }
    const r = parsed.request;
    this.counters.requests[r.type] = (this.counters.requests[r.type] ?? 0) + 1;
    const event = await this.handle(r);
    if (event.type === 'error') this.countError(event.code);
    this.emit(conn, event, r.framing);
  }

  /** Runs one request; never throws (every failure is an error event naming what is wrong). */
  private async handle(r: ApiRequest): Promise<ApiEvent> {
    const error = (
      code: (typeof ApiErrorCode)[keyof typeof ApiErrorCode],
      message: string,
      field?: string,
    ): ApiEvent => ({
      type: 'error',
      id: r.id,
      code,
      message,
      ...(field !== undefined ? { field } : {}),
    });
    if (r.type === 'selfAddress') return { type: 'selfAddress', id: r.id, address: this.client.address };
    if (r.type === 'openMailbox') {
      if (!this.client.openMailbox)
        return error(ApiErrorCode.notSupported, 'openMailbox is not supported by this client', 'type');
      try {
        return { type: 'mailbox', id: r.id, address: this.client.openMailbox(r.postOffice) };
      } catch (err) {
        return error(ApiErrorCode.noPostOffice, (err as Error).message, 'postOffice');
      }
    }
    if (r.bytes.length > this.client.params.maxMessageBytes) {
      return error(
        ApiErrorCode.messageTooLarge,
        `message of ${r.bytes.length} bytes is over this network's params.maxMessageBytes (${this.client.params.maxMessageBytes})`,
        'message',
      );
    }
    if (r.type === 'send' || r.type === 'sendAnonymous') {
      try {
        // A loopixpo1: address is an anonymous mailbox: the client pushes to its post office.
        if (r.type === 'send' && isAnonymousAddress(r.to)) parseAnonymousAddress(this.client.geometry, r.to);
        else parseAddress(this.client.geometry, r.to);
      } catch (err) {
        return error(ApiErrorCode.badAddress, `to: ${(err as Error).message}`, 'to');
      }
    }
    try {
      switch (r.type) {
        case 'send':
          return { type: 'sent', id: r.id, messageId: await this.client.send(r.to, r.bytes) };
        case 'sendAnonymous':
          if (!this.client.sendAnonymous)
            return error(
              ApiErrorCode.notSupported,
              'sendAnonymous is not supported yet: this client cannot attach reply SURBs; use send',
              'type',
            );
          return { type: 'sent', id: r.id, messageId: await this.client.sendAnonymous(r.to, r.bytes, r.replySurbs) };
        case 'reply':
          if (!this.client.reply)
            return error(
              ApiErrorCode.notSupported,
              'reply is not supported yet: this client cannot answer through reply SURBs',
              'type',
            );
          return { type: 'sent', id: r.id, messageId: await this.client.reply(r.senderTag, r.bytes) };
      }
    } catch (err) {
      return error(ApiErrorCode.sendFailed, (err as Error).message);
    }
  }

  private countError(code: string): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
  }

  private emit(conn: Connection, event: ApiEvent, framing: Framing): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    conn.ws.send(encodeEvent(event, framing));
  }

  private deliverTo(conn: Connection, m: ReceivedMessage): void {
    if (conn.ws.bufferedAmount > this.maxBufferedBytes) {
      this.counters.received_dropped_slow++;
      return;
    }
    // A message sent with reply SURBs carries an opaque reply handle (never the sender's address): the app
    // answers with `reply` naming it as senderTag.
    this.emit(
      conn,
      {
        type: 'received',
        messageId: m.messageId,
        latencyMs: m.latencyMs,
        bytes: m.bytes,
        ...(m.replyHandle !== undefined ? { senderTag: m.replyHandle } : {}),
      },
      conn.framing,
    );
    this.counters.received_delivered++;
  }

  /** Every received message goes to every connected application, or to the backlog when none is. */
  private async forwardReceived(): Promise<void> {
    for await (const m of this.client.messages()) {
      if (this.stopped) break;
      const open = [...this.connections].filter((c) => c.ws.readyState === c.ws.OPEN);
      if (open.length === 0) {
        this.backlog.push(m);
        if (this.backlog.length > this.backlogLimit) {
          this.backlog.shift();
          this.counters.received_dropped_backlog++;
        }
        continue;
      }
      for (const c of open) this.deliverTo(c, m);
    }
  }
}
