/**
 * The provider's client front end end to end: a real uWebSockets.js server on 127.0.0.1:0, real `ws` clients,
 * a real SQLite inbox in a temp dir, real X25519 keys (the client side through @noble/curves, independent of
 * the provider's Sphinx backend).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { clientIdOf } from '../src/address.js';
import { makeGeometry } from '../src/geometry.js';
import { encode, ErrorCode, FrameType, type Frame } from '../src/protocol/frames.js';
import { keys, RawPeer, type Keys } from './hardening-helpers.js';
import { FrontEndRig } from './helpers/front-end.js';

const g = makeGeometry();
const K = 4;

/** A raw peer (test/hardening-helpers.ts) whose `next` fails the test on a timeout instead of returning null. */
class TestClient extends RawPeer {
  constructor(port: number) {
    super(`ws://127.0.0.1:${port}/`, g, K);
  }

  override async next(timeoutMs = 5000): Promise<Frame> {
    const f = await super.next(timeoutMs);
    if (f === null) throw new Error('no frame within timeout');
    return f;
  }

  /** `tamper`: flip a bit of the AUTH proof. */
  override async authenticate(k: Keys, tamper?: boolean | ((auth: Uint8Array) => void)): Promise<Frame> {
    const f = await super.authenticate(
      k,
      tamper === true ? (auth) => void (auth[auth.length - 1]! ^= 1) : tamper || undefined,
    );
    if (f === null) throw new Error('no answer to AUTH');
    return f;
  }

  override async pull(requestId: number, ackId = 0): Promise<Uint8Array[]> {
    this.send(encode.pull(requestId, ackId));
    const reply = await this.next();
    if (reply.type !== 'pullReply') throw new Error(`expected PULL_REPLY, got ${JSON.stringify(reply)}`);
    expect(reply.requestId).toBe(requestId);
    return reply.packets.map((p) => p.slice());
  }

  close(): void {
    this.ws.close();
  }
}

function packet(tag: number): Uint8Array {
  const p = new Uint8Array(g.packetBytes);
  p.fill(tag);
  return p;
}

function expectError(f: Frame, code: number): void {
  expect(f.type).toBe('error');
  expect((f as { code: number }).code).toBe(code);
}

describe('provider client front end', () => {
  let rig: FrontEndRig;
  let clients: TestClient[];

  function connect(): TestClient {
    const c = new TestClient(rig.server!.port);
    clients.push(c);
    return c;
  }

  beforeEach(() => {
    rig = new FrontEndRig('loopix-ws-', g, K);
    clients = [];
  });
  afterEach(async () => {
    for (const c of clients) c.ws.terminate();
    await rig.close();
  });

  it('runs on the native uWebSockets.js binary and reports the bound port', async () => {
    const s = await rig.start();
    expect(s.uwsNative).toBe(true);
    expect(s.port).toBeGreaterThan(0);
  });

  it("detects uWebSockets.js's slow JS fallback, reports uwsNative = false and warns once", () => {
    // A separate process (uWS picks its implementation once per process), running the dist/ build that
    // test/global-setup.ts compiles.
    const script = `
      const { startClientFrontEnd } = await import('./dist/src/provider/ws-server.js');
      const { openInbox } = await import('./dist/src/provider/inbox.js');
      const { makeGeometry } = await import('./dist/src/geometry.js');
      const g = makeGeometry();
      const inbox = openInbox(${JSON.stringify(join(rig.dir, 'fallback.sqlite'))}, g);
      const warns = [];
      const opts = { geometry: g, host: '127.0.0.1', port: 0, pullK: 2, registration: 'open', allowedClients: [],
        maxFrameBytes: 4096, authTimeoutMs: 1000, inbox, ingress: { submit() {} }, count() {},
        log: { info() {}, warn(o, m) { warns.push(m); }, error() {} } };
      const a = await startClientFrontEnd(opts);
      const b = await startClientFrontEnd(opts);
      process.stdout.write('RESULT' + JSON.stringify({ a: a.uwsNative, b: b.uwsNative, warns: warns.length }) + '\\n');
      await a.close(); await b.close(); inbox.close();`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, UWS_USE_FALLBACK: '1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(JSON.parse(out.slice(out.indexOf('RESULT') + 6))).toEqual({ a: false, b: false, warns: 1 });
  });

  it('authenticates a client, which then pulls exactly k packets: stored first, then dummies of identical size', async () => {
    await rig.start();
    const me = keys();
    const id = clientIdOf(g, me.publicKey);
    rig.inbox.store(id, packet(1));
    rig.inbox.store(id, packet(2));
    const c = connect();
    expect((await c.authenticate(me)).type).toBe('authOk');
    expect(rig.inbox.isRegistered(id)).toBe(true);
    const got = await c.pull(7);
    expect(got).toHaveLength(K);
    expect(got.every((p) => p.length === g.packetBytes)).toBe(true);
    expect(got[0]).toEqual(packet(1));
    expect(got[1]).toEqual(packet(2));
    // Dummies are random bytes, not a recognisable filler.
    expect(got[2]).not.toEqual(got[3]);
    expect(got[2]!.some((b) => b !== 0)).toBe(true);
    expect(rig.counts.get('ws_auth_ok')).toBe(1);
    expect(rig.counts.get('ws_pull_stored')).toBe(2);
    expect(rig.counts.get('ws_pull_dummies')).toBe(2);
  });

  it('keeps stored packets until the ACK of the reply that carried them', async () => {
    await rig.start();
    const me = keys();
    const id = clientIdOf(g, me.publicKey);
    for (let i = 1; i <= K + 1; i++) rig.inbox.store(id, packet(i));
    const c = connect();
    await c.authenticate(me);
    const first = await c.pull(1);
    const again = await c.pull(2); // no ACK in between: the same oldest k packets
    expect(again).toEqual(first);
    c.send(encode.ack(2));
    const rest = await c.pull(3); // the ACK was processed before this pull (frames are ordered)
    expect(rest[0]).toEqual(packet(K + 1));
    // The deletion itself is batched off the reply path (src/provider/deferred-removal.ts).
    await vi.waitFor(() => expect(rig.inbox.count(id)).toBe(1));
    c.send(encode.ack(1)); // reply 1's packets were already deleted through reply 2: harmless
    const last = await c.pull(4, 3); // the ack id inside a PULL acknowledges reply 3 before this pull
    expect(last.some((p) => p.every((x, i) => x === packet(K + 1)[i]))).toBe(false);
    await vi.waitFor(() => expect(rig.inbox.count(id)).toBe(0));
  });

  it('accepts rig.submitted packets into the node pipeline, copied out of the socket buffer', async () => {
    await rig.start();
    const c = connect();
    await c.authenticate(keys());
    c.send(encode.submit(g, packet(9)));
    c.send(encode.submit(g, packet(8)));
    await c.pull(1); // a round trip: both SUBMITs were handled before the reply
    expect(rig.submitted).toEqual([packet(9), packet(8)]);
    expect(rig.counts.get('ws_submit')).toBe(2);
  });

  it('never gives a client another client’s packets', async () => {
    await rig.start();
    const alice = keys();
    const bob = keys();
    rig.inbox.store(clientIdOf(g, alice.publicKey), packet(0xa1));
    rig.inbox.store(clientIdOf(g, bob.publicKey), packet(0xb1));
    const a = connect();
    const b = connect();
    await a.authenticate(alice);
    await b.authenticate(bob);
    const ga = await a.pull(1);
    const gb = await b.pull(1);
    expect(ga[0]).toEqual(packet(0xa1));
    expect(gb[0]).toEqual(packet(0xb1));
    expect(ga.slice(1).some((p) => p.every((x) => x === 0xb1))).toBe(false);
    expect(gb.slice(1).some((p) => p.every((x) => x === 0xa1))).toBe(false);
    // Bob acknowledging his request id 1 deletes only his own packet.
    b.send(encode.ack(1));
    await b.pull(2);
    await vi.waitFor(() => expect(rig.inbox.count(clientIdOf(g, bob.publicKey))).toBe(0));
    expect(rig.inbox.count(clientIdOf(g, alice.publicKey))).toBe(1);
  });

  it('refuses a wrong proof and closes', async () => {
    await rig.start();
    const c = connect();
    expectError(await c.authenticate(keys(), true), ErrorCode.AUTH_FAILED);
    expect((await c.closed).code).toBe(1008);
    expect(rig.counts.get('ws_auth_failed')).toBe(1);
  });

  it('refuses a proof made with another key than the one announced', async () => {
    await rig.start();
    const c = connect();
    const claimed = keys();
    const actual = keys();
    expectError(await c.authenticate({ secret: actual.secret, publicKey: claimed.publicKey }), ErrorCode.AUTH_FAILED);
    await c.closed;
  });

  it('refuses a low-order public key, whose all-zero shared secret anyone could use', async () => {
    await rig.start();
    const c = connect();
    expectError(await c.authenticate({ secret: keys().secret, publicKey: new Uint8Array(32) }), ErrorCode.AUTH_FAILED);
    await c.closed;
  });

  it('refuses an unauthenticated PULL and closes', async () => {
    await rig.start();
    const c = connect();
    await c.opened;
    c.send(encode.pull(1));
    expectError(await c.next(), ErrorCode.UNEXPECTED);
    await c.closed;
    expect(rig.counts.get('ws_unexpected')).toBe(1);
  });

  it('refuses a PULL between HELLO and AUTH, and a second HELLO after authentication', async () => {
    await rig.start();
    const c1 = connect();
    await c1.opened;
    const k = keys();
    c1.send(encode.hello(k.publicKey));
    expect((await c1.next()).type).toBe('challenge');
    c1.send(encode.pull(1));
    expectError(await c1.next(), ErrorCode.UNEXPECTED);
    await c1.closed;

    // After authentication a HELLO is not even a record: refused as malformed.
    const c2 = connect();
    await c2.authenticate(k);
    c2.sendRaw(encode.hello(k.publicKey));
    expectError(await c2.next(), ErrorCode.MALFORMED);
    await c2.closed;
    expect(rig.counts.get('ws_bad_record')).toBe(1);
  });

  it('answers malformed, oversized and text frames with an ERROR and a close, while another client keeps working', async () => {
    await rig.start({ maxFrameBytes: 4096 });
    const me = keys();
    rig.inbox.store(clientIdOf(g, me.publicKey), packet(5));
    const good = connect();
    await good.authenticate(me);

    const cases: [Uint8Array | string, number, string][] = [
      [Uint8Array.of(FrameType.PULL, 1, 2), ErrorCode.MALFORMED, 'ws_malformed'], // short body
      [Uint8Array.of(0x55), ErrorCode.MALFORMED, 'ws_malformed'], // unknown type
      [new Uint8Array(4097), ErrorCode.TOO_LARGE, 'ws_too_large'],
      ['hello', ErrorCode.MALFORMED, 'ws_text_frame'],
    ];
    for (const [data, code, counter] of cases) {
      const bad = connect();
      await bad.opened;
      bad.send(data);
      expectError(await bad.next(), code);
      await bad.closed;
      expect(rig.counts.get(counter)).toBeGreaterThan(0);
      expect((await good.pull(1))[0]).toEqual(packet(5));
    }
    // Far beyond even uWS's own hard limit: a bare close, counted, and still no harm to the good client.
    const huge = connect();
    await huge.opened;
    huge.send(new Uint8Array(3 * 4096));
    await huge.closed;
    expect(rig.counts.get('ws_too_large')).toBe(2);
    expect((await good.pull(2))[0]).toEqual(packet(5));
    expect(rig.server!.connections).toBe(1);
  });

  it('closes a connection that does not authenticate in time', async () => {
    await rig.start({ authTimeoutMs: 150 });
    const c = connect();
    await c.opened;
    const t0 = Date.now();
    expectError(await c.next(), ErrorCode.AUTH_TIMEOUT);
    await c.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(rig.counts.get('ws_auth_timeout')).toBe(1);
  });

  it('with closed registration, admits listed keys and refuses unknown ones', async () => {
    const listed = keys();
    await rig.start({
      registration: 'closed',
      allowedClients: [Buffer.from(listed.publicKey).toString('hex').toUpperCase()],
    });
    const ok = connect();
    expect((await ok.authenticate(listed)).type).toBe('authOk');
    const stranger = connect();
    expectError(await stranger.authenticate(keys()), ErrorCode.NOT_REGISTERED);
    await stranger.closed;
    expect(rig.counts.get('ws_not_registered')).toBe(1);
  });

  it('closes every connection and the listen socket on close()', async () => {
    const s = await rig.start();
    const c = connect();
    await c.authenticate(keys());
    expect(s.connections).toBe(1);
    await s.close();
    expect((await c.closed).code).toBe(1001);
    expect(s.connections).toBe(0);
    const late = new WebSocket(`ws://127.0.0.1:${s.port}/`);
    await new Promise<void>((resolve) => {
      late.once('error', () => resolve());
      late.once('open', () => resolve());
    });
    expect(late.readyState).not.toBe(WebSocket.OPEN);
    late.terminate();
  });
});
