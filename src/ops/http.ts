/**
 * The operator's HTTP endpoint of a node (node:http, main thread): `GET /metrics` serves the node's
 * Prometheus registry (text exposition 0.0.4), `GET /healthz` its readiness as JSON — 200 when ready, 503
 * with the failing checks otherwise (src/ops/health.ts). Nothing else is served (404), nothing but GET/HEAD
 * accepted (405).
 *
 * Binding: exactly `host:port` from the node config's `ops.listen`. An address that is not loopback is
 * refused unless `ops.allowRemote` is true, so metrics (which reveal traffic volumes per link) are exposed to
 * the network only on purpose.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { Registry } from 'prom-client';
import { LoopixError } from '../errors.js';

export interface HealthReport {
  readonly ready: boolean;
  /** Each check: true when it passes, else a one-line reason. */
  readonly checks: Readonly<Record<string, true | string>>;
}

export interface OpsServerOptions {
  readonly host: string;
  /** 0: any free port (tests). */
  readonly port: number;
  readonly allowRemote: boolean;
  readonly registry: Registry;
  readonly health: () => HealthReport | Promise<HealthReport>;
}

export interface OpsServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function remoteBindError(host: string): LoopixError {
  return new LoopixError(
    'ERR_LOOPIX_OPS_REMOTE_BIND',
    `ops.listen.host ${host} is not a loopback address: set ops.allowRemote to true to serve /metrics and /healthz off this host`,
    { field: 'ops.listen.host' },
  );
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  if (!isLoopback(o.host) && !o.allowRemote) throw remoteBindError(o.host);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const fail = (err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(err as Error)?.message ?? String(err)}\n`);
    };
    if (path === '/metrics') {
      o.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': o.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      }, fail);
    } else if (path === '/healthz') {
      Promise.resolve()
        .then(() => o.health())
        .then((h) => {
          res.writeHead(h.ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(
            req.method === 'HEAD'
              ? undefined
              : `${JSON.stringify({ status: h.ready ? 'ready' : 'not_ready', checks: h.checks })}\n`,
          );
        }, fail);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new LoopixError('ERR_LOOPIX_OPS_LISTEN', `ops.listen ${o.host}:${o.port}: ${err.code ?? err.message}`, {
          field: 'ops.listen',
          cause: err,
        }),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    host: o.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
