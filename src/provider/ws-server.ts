/**
 * The provider's client front end: a uWebSockets.js server (binary frames) whose connections each run a
 * ClientSession (src/provider/sessions.ts). docs/pipeline.md §"The provider front end".
 *
 * uWebSockets.js is the alias of ARCHITECTURE.md §"Transports and storage". Its loader silently falls back to
 * a slow pure-JS implementation when its binary does not load; we detect that by requiring the binary for this
 * platform/ABI ourselves and checking it is the module we got, log it once per process, and report it as
 * `uwsNative` (the node exports it as the metric `uws_native`).
 *
 * Frame sizes: frames larger than `maxFrameBytes` are answered with ERROR(TOO_LARGE) and a close. uWS itself
 * drops a connection without any reply once a message exceeds its `maxPayloadLength`, so that hard limit is set
 * to UWS_LIMIT_FACTOR × maxFrameBytes: only beyond it does a client get a bare close (still counted as
 * 'ws_too_large').
 *
 * Connections per remote address are capped (`limits.maxConnectionsPerAddress`): one more gets
 * ERROR(TOO_MANY_CONNECTIONS) and a close before any session starts (counted as 'ws_too_many_connections').
 * The per-client SUBMIT / PULL buckets live in one ClientLimiter shared by all sessions (src/provider/limits.ts).
 *
 * uWS rules respected here: the ArrayBuffer a handler receives is valid only during the callback (sessions
 * copy what they keep); a WebSocket must not be used after its close handler ran (each connection tracks its
 * closed state); no exception may escape a handler (each is wrapped, counted as 'ws_internal_error').
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import { LINK_TAG_BYTES } from '../protocol/channel.js';
import { encode, ErrorCode } from '../protocol/frames.js';
import { DeferredRemoval } from './deferred-removal.js';
import { dummyPackets } from './dummies.js';
import { nodeAead } from './node-aead.js';
import {
  AddressCounter,
  addressKey,
  canonicalAddress,
  checkLimits,
  ClientLimiter,
  HandshakeLimiter,
  LIMIT_SWEEP_MS,
  NO_LIMITS,
} from './limits.js';
import { ClientSession, CloseCode, nodeEphemeralKey, type SessionConnection, type SessionContext } from './sessions.js';
import type { ClientFrontEnd, ClientFrontEndOptions } from './types.js';
import type { CounterName } from '../node/counters.js';

type UwsModule = typeof Uws;

/** uWS's own hard limit on a message, as a multiple of maxFrameBytes (see the header comment). */
export const UWS_LIMIT_FACTOR = 2;
/** Seconds of silence after which uWS closes a connection (it pings first); clients pull every second or so. */
const IDLE_TIMEOUT_S = 120;

export interface UwsLoad {
  readonly uws: UwsModule;
  /** True when uWS runs its native binary, false for its JS fallback. */
  readonly native: boolean;
  readonly reason?: string;
}

let loaded: UwsLoad | undefined;
let fallbackLogged = false;

/** Loads uWebSockets.js once per process and finds out whether its native binary is in use. */
export function loadUws(): UwsLoad {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const uws = require('uWebSockets.js') as UwsModule;
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  let native = false;
  let reason: string | undefined;
  try {
    // Same resolved path → same cached module object iff uws.js loaded the binary (and not its fallback).
    native = require(binary) === uws;
    if (!native) reason = 'uWebSockets.js loaded its JS fallback (UWS_USE_FALLBACK set?)';
  } catch (err) {
    reason = `native binary ${binary} does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  loaded = reason === undefined ? { uws, native } : { uws, native, reason };
  return loaded;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

interface UserData {
  /** The client's address as resolved at the upgrade (trusted proxy header or socket peer), grouped by addressKey. */
  client?: string;
  session?: ClientSession;
  conn?: UwsConnection;
  /** Remote address this connection is counted under (set once admitted). */
  address?: string;
}

/** A SessionConnection over one uWS WebSocket that refuses to touch the socket once it is closed. */
class UwsConnection implements SessionConnection {
  closed = false;
  constructor(
    private readonly ws: Uws.WebSocket<UserData>,
    private readonly count: (name: CounterName, by?: number) => void,
  ) {}

  send(frame: Uint8Array): boolean {
    if (this.closed) return false;
    const status = this.ws.send(frame, true, false);
    if (status === 2) {
      // Dropped over maxBackpressure: the client's pull times out; stored packets stay until an ACK.
      this.count('ws_send_dropped');
      return false;
    }
    return true;
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.end(code, reason); // runs the close handler synchronously
  }
}

/** Starts the client front end; resolves once it listens (on the bound port when `opts.port` is 0). */
export async function startClientFrontEnd(opts: ClientFrontEndOptions): Promise<ClientFrontEnd> {
  const g = opts.geometry;
  const pullK = checkInt('pullK', opts.pullK, 1, 1024);
  const maxFrameBytes = checkInt('maxFrameBytes', opts.maxFrameBytes, 1 + g.packetBytes + LINK_TAG_BYTES, 1 << 24);
  const authTimeoutMs = checkInt('authTimeoutMs', opts.authTimeoutMs, 1, 600_000);
  const port = checkInt('port', opts.port, 0, 65535);
  if (opts.registration !== 'open' && opts.registration !== 'closed') {
    throw new RangeError(`registration must be "open" or "closed", got ${JSON.stringify(opts.registration)}`);
  }
  const allowed = new Set<string>();
  opts.allowedClients.forEach((k, i) => {
    if (typeof k !== 'string' || !/^[0-9a-fA-F]{64}$/.test(k)) {
      throw new RangeError(`allowedClients[${i}] must be 32 bytes of hex, got ${JSON.stringify(k)}`);
    }
    allowed.add(k.toLowerCase());
  });

  const limits = checkLimits(opts.limits ?? NO_LIMITS);
  const limiter =
    limits.submitPerS > 0 || limits.pullPerS > 0 ? new ClientLimiter(limits, () => performance.now()) : undefined;
  const perAddress = new AddressCounter(limits.maxConnectionsPerAddress);
  const handshakes = new HandshakeLimiter(limits.handshakesPerS ?? 0, limits.handshakeBurst ?? 1, () =>
    performance.now(),
  );
  const trusted = new Set((opts.clientAddress?.trustedProxies ?? []).map(canonicalAddress));
  const header = opts.clientAddress?.header;
  /** The client's address for the limits: the trusted proxy's header when this connection comes from one. */
  const clientAddressOf = (peer: string, headerValue: string): string => {
    if (header && headerValue && trusted.has(canonicalAddress(peer))) {
      const last = headerValue.split(',').at(-1)!.trim();
      if (last) return addressKey(last);
    }
    return addressKey(peer);
  };

  const { uws, native, reason } = loadUws();
  if (!native && !fallbackLogged) {
    fallbackLogged = true;
    opts.log.warn({ reason }, 'uWebSockets.js native binary not in use: client front end runs on the slow JS fallback');
  }

  const removal = new DeferredRemoval(opts.inbox, (err, packets) => {
    opts.count('ws_ack_remove_errors');
    opts.log.error(
      { err: (err as Error)?.message ?? String(err), packets },
      'deleting acknowledged packets failed; they will be served again',
    );
  });
  const ctx: SessionContext = {
    geometry: g,
    pullK,
    registration: opts.registration,
    allowedClients: allowed,
    maxFrameBytes,
    authTimeoutMs,
    inbox: opts.inbox,
    ingress: opts.ingress,
    count: opts.count,
    log: opts.log,
    ephemeralKey: nodeEphemeralKey,
    aead: nodeAead,
    dummy: dummyPackets(g, opts.currentEpoch ?? (() => 0)),
    removal,
    ...(limiter ? { limiter } : {}),
    ...(opts.pool ? { pool: opts.pool } : {}),
  };

  const sockets = new Set<Uws.WebSocket<UserData>>();
  const internal = (where: string, err: unknown): void => {
    try {
      opts.count('ws_internal_error');
      opts.log.error({ err, where }, 'client front end: internal error');
    } catch {
      /* never throw out of a uWS handler */
    }
  };
  // Worst-case reply a connection may have queued: a few PULL_REPLYs.
  const maxBackpressure = Math.max(1 << 20, 4 * (5 + pullK * g.packetBytes));

  const app = uws.App();
  app.ws<UserData>('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: Math.min(UWS_LIMIT_FACTOR * maxFrameBytes, 2 ** 31 - 1),
    maxBackpressure,
    closeOnBackpressureLimit: 0,
    idleTimeout: IDLE_TIMEOUT_S,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      try {
        const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
        const client = clientAddressOf(peer, header ? req.getHeader(header) : '');
        res.upgrade<UserData>(
          { client },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      } catch (err) {
        internal('upgrade', err);
      }
    },
    open: (ws) => {
      try {
        const conn = new UwsConnection(ws, opts.count);
        const data = ws.getUserData();
        data.conn = conn;
        sockets.add(ws);
        const address = data.client ?? addressKey(Buffer.from(ws.getRemoteAddressAsText()).toString());
        if (!handshakes.admit(address)) {
          opts.count('ws_handshake_throttled');
          const message = `more than ${+((limits.handshakesPerS ?? 0) * 60).toPrecision(4)} new connections per minute from ${address}`;
          conn.send(encode.error(ErrorCode.RATE_LIMITED, message));
          conn.end(CloseCode.POLICY_VIOLATION, message.slice(0, 100));
          return;
        }
        if (!perAddress.admit(address)) {
          opts.count('ws_too_many_connections');
          const message = `more than ${limits.maxConnectionsPerAddress} connections from ${address}`;
          conn.send(encode.error(ErrorCode.TOO_MANY_CONNECTIONS, message));
          conn.end(CloseCode.POLICY_VIOLATION, message.slice(0, 100));
          return;
        }
        data.address = address;
        data.session = new ClientSession(ctx, conn);
      } catch (err) {
        internal('open', err);
        try {
          ws.end(1011, 'internal error');
        } catch {
          /* already closed */
        }
      }
    },
    message: (ws, message, isBinary) => {
      try {
        ws.getUserData().session?.onMessage(new Uint8Array(message), isBinary);
      } catch (err) {
        internal('message', err);
      }
    },
    close: (ws, code, message) => {
      try {
        const data = ws.getUserData();
        if (data.conn) data.conn.closed = true;
        sockets.delete(ws);
        if (data.address !== undefined) {
          perAddress.release(data.address);
          data.address = undefined;
        }
        opts.count('ws_closed');
        // uWS closes on its own (code 1006) when a message exceeds maxPayloadLength.
        if (code === 1006 && Buffer.from(message).toString().includes('too big')) opts.count('ws_too_large');
        data.session?.onClose();
      } catch (err) {
        internal('close', err);
      }
    },
  });
  app.any('/*', (res) => {
    try {
      res.writeStatus('426 Upgrade Required').end('loopix provider: WebSocket only\n');
    } catch (err) {
      internal('http', err);
    }
  });

  const listenSocket = await new Promise<Uws.us_listen_socket>((resolve, reject) => {
    app.listen(opts.host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`client front end cannot listen on ${opts.host}:${port}`));
    });
  });
  const boundPort = uws.us_socket_local_port(listenSocket);
  opts.log.info({ host: opts.host, port: boundPort, uwsNative: native, limits }, 'client front end listening');
  // Forget idle clients whose buckets have refilled (bounded memory under key churn).
  const sweep = setInterval(() => {
    limiter?.sweep();
    handshakes.sweep();
  }, LIMIT_SWEEP_MS);
  sweep?.unref();

  let closed = false;
  return {
    port: boundPort,
    uwsNative: native,
    get connections() {
      return sockets.size;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      uws.us_listen_socket_close(listenSocket);
      for (const ws of [...sockets]) {
        try {
          const data = ws.getUserData();
          if (data.session) data.session.shutdown();
          else if (!data.conn?.closed) ws.end(1001, 'provider shutting down');
        } catch (err) {
          internal('shutdown', err);
        }
      }
      sockets.clear();
      removal.flush();
      // Let uWS run the close frames out before the caller tears down what the sessions used (the inbox).
      await new Promise((r) => setImmediate(r));
    },
  };
}
