/**
 * The authority's HTTP API (node:http), versioned under /v1:
 *
 *   POST /v1/descriptor  {descriptor: {body, signature}}  a node's signed descriptor
 *   POST /v1/report      {report: {body, signature}}      a node's signed loop report
 *   GET  /v1/document/E  the document of epoch E with every signature held (404 before the vote)
 *   GET  /v1/sync        descriptors, reports and signatures, for the peer authorities
 *   GET  /v1/status      schedule and counts, for operators and nodes starting up
 *
 * Requests are checked before they touch state: POST needs `content-type: application/json` (415), a body of
 * at most maxBodyBytes (413, the connection is not read further), valid JSON (400) and the zod schema (400,
 * naming the field); a refused object gets 4xx with `{error: {code, message, field}}` and changes nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isLoopixError } from '../errors.js';
import type { Authority } from './authority.js';
import { DescriptorUploadSchema, ReportUploadSchema } from './schemas.js';

const STATUS_BY_CODE: Record<string, number> = {
  ERR_LOOPIX_DIRECTORY_MALFORMED: 400,
  ERR_LOOPIX_DIRECTORY_SIGNATURE: 401,
  ERR_LOOPIX_DIRECTORY_UNKNOWN_NODE: 403,
  ERR_LOOPIX_DIRECTORY_NODE_ID: 403,
  ERR_LOOPIX_DIRECTORY_EPOCH: 409,
  ERR_LOOPIX_DIRECTORY_EVIDENCE: 422,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      reject(
        new HttpError(
          415,
          'ERR_LOOPIX_DIRECTORY_CONTENT_TYPE',
          `content-type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`,
          'content-type',
        ),
      );
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(
        new HttpError(
          413,
          'ERR_LOOPIX_DIRECTORY_TOO_LARGE',
          `body of ${declared} bytes exceeds the limit of ${limit}`,
          'content-length',
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(
          new HttpError(413, 'ERR_LOOPIX_DIRECTORY_TOO_LARGE', `body exceeds the limit of ${limit} bytes`, 'body'),
        );
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(new HttpError(400, 'ERR_LOOPIX_DIRECTORY_JSON', `body is not JSON: ${(err as Error).message}`, 'body'));
      }
    });
    req.on('error', (err) => {
      if (!done)
        reject(new HttpError(400, 'ERR_LOOPIX_DIRECTORY_BODY', `could not read the body: ${err.message}`, 'body'));
      done = true;
    });
  });
}

function parseWith<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  value: unknown,
): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.map(String).join('.') || '(root)';
  throw new HttpError(400, 'ERR_LOOPIX_DIRECTORY_MALFORMED', `${field}: ${issue.message}`, field);
}

export interface AuthorityServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAuthorityServer(
  authority: Authority,
  o: { host: string; port: number; maxBodyBytes: number; log: Logger },
): Promise<AuthorityServer> {
  const counts = { requests: 0, refused: 0 };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    counts.requests++;
    const url = new URL(req.url ?? '/', 'http://authority');
    const path = url.pathname;
    if (req.method === 'POST' && path === '/v1/descriptor') {
      const { descriptor } = parseWith(DescriptorUploadSchema, await readJson(req, o.maxBodyBytes));
      send(res, 200, authority.acceptDescriptor(descriptor));
      return;
    }
    if (req.method === 'POST' && path === '/v1/report') {
      const { report } = parseWith(ReportUploadSchema, await readJson(req, o.maxBodyBytes));
      send(res, 200, authority.acceptReport(report));
      return;
    }
    if (req.method === 'GET' && path.startsWith('/v1/document/')) {
      const raw = path.slice('/v1/document/'.length);
      const epoch = Number(raw);
      if (!/^\d{1,15}$/.test(raw) || !Number.isSafeInteger(epoch))
        throw new HttpError(
          400,
          'ERR_LOOPIX_DIRECTORY_MALFORMED',
          `epoch must be a non-negative integer, got ${JSON.stringify(raw)}`,
          'epoch',
        );
      const doc = authority.document(epoch);
      if (!doc)
        throw new HttpError(
          404,
          'ERR_LOOPIX_DIRECTORY_NO_DOCUMENT',
          `no document for epoch ${epoch} yet (current epoch ${authority.currentEpoch})`,
          'epoch',
        );
      send(res, 200, doc);
      return;
    }
    if (req.method === 'GET' && path === '/v1/sync') return send(res, 200, authority.syncPayload());
    if (req.method === 'GET' && path === '/v1/status') return send(res, 200, { ...authority.status(), http: counts });
    const known =
      ['/v1/descriptor', '/v1/report', '/v1/sync', '/v1/status'].includes(path) || path.startsWith('/v1/document/');
    if (known)
      throw new HttpError(405, 'ERR_LOOPIX_DIRECTORY_METHOD', `${req.method} is not allowed on ${path}`, 'method');
    throw new HttpError(404, 'ERR_LOOPIX_DIRECTORY_NOT_FOUND', `no such endpoint ${path}`, 'path');
  };
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      counts.refused++;
      let status = 500;
      let code = 'ERR_LOOPIX_DIRECTORY_INTERNAL';
      let field: string | undefined;
      const message = (err as Error)?.message ?? String(err);
      if (err instanceof HttpError) ({ status, code, field } = err);
      else if (isLoopixError(err)) {
        code = err.code;
        field = err.field;
        status = STATUS_BY_CODE[err.code] ?? 400;
      }
      if (status >= 500) o.log.error({ err: message }, 'request failed');
      else o.log.debug({ status, code, message }, 'request refused');
      if (status === 413) res.setHeader('connection', 'close');
      send(res, status, { error: { code, message, ...(field ? { field } : {}) } });
    });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
