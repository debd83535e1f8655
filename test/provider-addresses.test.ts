/**
 * Per-address limits of the provider front end as an abuser would meet them: a burst of fresh handshakes from
 * one address is cut off (ERROR RATE_LIMITED before any key agreement); an IPv6 host cannot escape the limits
 * by rotating through its /64; behind a trusted reverse proxy the limits apply to the address the proxy
 * reports, and the header is ignored from anyone else. Real uWebSockets.js server, real `ws` clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeGeometry } from '../src/geometry.js';
import { decodeFrame, encode, ErrorCode } from '../src/protocol/frames.js';
import { openInbox, type SqliteInbox } from '../src/provider/inbox.js';
import { addressKey, NO_LIMITS } from '../src/provider/limits.js';
import type { ClientFrontEnd, ClientFrontEndOptions } from '../src/provider/types.js';
import { startClientFrontEnd } from '../src/provider/ws-server.js';

const g = makeGeometry();

describe('addressKey', () => {
  it('groups IPv6 by /64 in any spelling, keeps IPv4, unwraps IPv4-mapped addresses', () => {
    const k = addressKey('2001:db8:1:2::1');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(k);
    expect(addressKey('[2001:DB8:1:2:0:0:0:7]')).toBe(k);
    expect(addressKey('2001:db8:1:3::1')).not.toBe(k);
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('0000:0000:0000:0000:0000:ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('provider front end: per-address handshake limit and trusted proxy header', () => {
  let dir: string;
  let inbox: SqliteInbox;
  let server: ClientFrontEnd | undefined;
  let counts: Map<string, number>;
  const sockets: WebSocket[] = [];

  async function start(over: Partial<ClientFrontEndOptions>): Promise<ClientFrontEnd> {
    server = await startClientFrontEnd({
      geometry: g,
      host: '127.0.0.1',
      port: 0,
      pullK: 2,
      registration: 'open',
      allowedClients: [],
      maxFrameBytes: 4096,
      authTimeoutMs: 5000,
      inbox,
      ingress: { submit() {} },
      count: (name, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by),
      log: { info() {}, warn() {}, error() {} },
      ...over,
    });
    return server;
  }

  /**
   * Opens a connection (optionally with an X-Forwarded-For header) and sends a HELLO: 'open' when the provider
   * answers with a CHALLENGE, the ERROR code when it refused the connection.
   */
  function attempt(headers: Record<string, string> = {}): Promise<'open' | number> {
    const ws = new WebSocket(`ws://127.0.0.1:${server!.port}/`, { headers });
    sockets.push(ws);
    return new Promise((resolve, reject) => {
      ws.on('open', () => ws.send(encode.hello(crypto.getRandomValues(new Uint8Array(32)))));
      ws.on('message', (d: Buffer) => {
        const f = decodeFrame(g, new Uint8Array(d));
        if (f.type === 'challenge') resolve('open');
        else if (f.type === 'error') resolve(f.code);
        else reject(new Error(`unexpected ${f.type}`));
      });
      ws.on('error', () => {});
    });
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loopix-addr-'));
    inbox = openInbox(join(dir, 'inbox.sqlite'), g);
    counts = new Map();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.terminate();
    await server?.close();
    inbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses handshakes beyond the burst from one address with RATE_LIMITED, before any key agreement', async () => {
    await start({ limits: { ...NO_LIMITS, handshakesPerS: 0.01, handshakeBurst: 3 } });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await attempt());
    expect(results).toEqual(['open', 'open', 'open', ErrorCode.RATE_LIMITED, ErrorCode.RATE_LIMITED]);
    expect(counts.get('ws_handshake_throttled')).toBe(2);
  });

  it('behind a trusted proxy, limits the address in its header (rightmost entry); the header of an untrusted peer is ignored', async () => {
    await start({
      limits: { ...NO_LIMITS, handshakesPerS: 0.01, handshakeBurst: 1 },
      clientAddress: { header: 'x-forwarded-for', trustedProxies: ['127.0.0.1'] },
    });
    // Two clients behind the proxy: one handshake each is fine, a second from the same client (or its /64) is not.
    expect(await attempt({ 'x-forwarded-for': '198.51.100.1' })).toBe('open');
    expect(await attempt({ 'x-forwarded-for': '203.0.113.9, 198.51.100.2' })).toBe('open');
    expect(await attempt({ 'x-forwarded-for': '198.51.100.1' })).toBe(ErrorCode.RATE_LIMITED);
    expect(await attempt({ 'x-forwarded-for': '2001:db8:1:2::1' })).toBe('open');
    expect(await attempt({ 'x-forwarded-for': '2001:db8:1:2::99' })).toBe(ErrorCode.RATE_LIMITED);
  });

  it('ignores the header from a peer that is not a trusted proxy (a client cannot pick its own address)', async () => {
    await start({
      limits: { ...NO_LIMITS, handshakesPerS: 0.01, handshakeBurst: 1 },
      clientAddress: { header: 'x-forwarded-for', trustedProxies: ['192.0.2.1'] },
    });
    expect(await attempt({ 'x-forwarded-for': '198.51.100.1' })).toBe('open');
    expect(await attempt({ 'x-forwarded-for': '198.51.100.2' })).toBe(ErrorCode.RATE_LIMITED);
  });
});
