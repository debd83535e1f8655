/**
 * The encrypted client ↔ provider link (src/protocol/channel.ts) and the provider session over it, attacked
 * record by record: Node's and @noble's ChaCha20-Poly1305 agree; a flipped bit, a replayed, reordered or
 * resized record closes the session; the handshake hides the client's static key from the wire and refuses a
 * proof for a key its sender does not hold; dummies are laid out like stored packets and fail the client's
 * unwrap the same way; deleting acknowledged packets does not slow the reply path (measured, compared as
 * distributions).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { makeGeometry } from '../src/geometry.js';
import { ClientHandshake, linkNonce, linkSizes, nobleAead, type RecordLayer } from '../src/protocol/channel.js';
import { decodeFrame, encode, ErrorCode, unpad, type Frame } from '../src/protocol/frames.js';
import { DeferredRemoval } from '../src/provider/deferred-removal.js';
import { dummyPackets, randomGroupElement } from '../src/provider/dummies.js';
import { openInbox, type SqliteInbox } from '../src/provider/inbox.js';
import { nodeAead } from '../src/provider/node-aead.js';
import {
  ClientSession,
  nodeEphemeralKey,
  type SessionConnection,
  type SessionContext,
} from '../src/provider/sessions.js';
import { native } from './helpers/backends.js';

const g = makeGeometry();
const K = 4;

function keys() {
  const secret = x25519.utils.randomSecretKey();
  return { secret, publicKey: x25519.getPublicKey(secret) };
}

class Conn implements SessionConnection {
  readonly sent: Uint8Array[] = [];
  ended = false;
  send(frame: Uint8Array): boolean {
    this.sent.push(frame.slice());
    return true;
  }
  end(): void {
    this.ended = true;
  }
}

describe('link records', () => {
  it("Node's and @noble's ChaCha20-Poly1305 produce the same records and open each other's", () => {
    for (const n of [0, 1, 9, 203, 1 + g.packetBytes, 5 + K * g.packetBytes]) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const plain = crypto.getRandomValues(new Uint8Array(n));
      const nonce = linkNonce(2 ** 40 + n);
      const a = nodeAead.seal(key, nonce, plain);
      const b = nobleAead.seal(key, nonce, plain);
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
      expect(nodeAead.open(key, nonce, b)).toEqual(plain);
      expect(nobleAead.open(key, nonce, a)).toEqual(plain);
      a[0]! ^= 1;
      expect(nodeAead.open(key, nonce, a)).toBeNull();
      expect(nobleAead.open(key, nonce, a)).toBeNull();
    }
  });
});

describe('provider session over the encrypted link', () => {
  let dir: string;
  let inbox: SqliteInbox;
  let counts: Map<string, number>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loopix-link-'));
    inbox = openInbox(join(dir, 'inbox.sqlite'), g);
    counts = new Map();
  });
  afterEach(() => {
    inbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function context(over: Partial<SessionContext> = {}): SessionContext {
    return {
      geometry: g,
      pullK: K,
      registration: 'open',
      allowedClients: new Set(),
      maxFrameBytes: 1 << 16,
      authTimeoutMs: 60_000,
      inbox,
      ingress: { submit() {} },
      count: (name, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by),
      log: { info() {}, warn() {}, error() {} },
      ephemeralKey: nodeEphemeralKey,
      aead: nodeAead,
      dummy: dummyPackets(g, () => 0x1234),
      ...over,
    };
  }

  /** A session and an authenticated client link to it. */
  function connect(me = keys(), ctx = context()) {
    const conn = new Conn();
    const session = new ClientSession(ctx, conn);
    const hs = new ClientHandshake(me.secret, me.publicKey);
    session.onMessage(hs.hello, true);
    const answer = hs.answer(conn.sent.at(-1)!, linkSizes(g, K))!;
    session.onMessage(answer.auth, true);
    const link: RecordLayer = answer.link;
    const receive = (): Frame => {
      const opened = link.open(conn.sent.shift()!);
      if (!('frame' in opened)) throw new Error(`record does not open: ${opened.error}`);
      return decodeFrame(g, unpad(g, K, opened.frame)!);
    };
    conn.sent.splice(0, 1); // the CHALLENGE
    return { conn, session, link, receive, me, hs, auth: answer.auth };
  }

  it('authenticates over records; the static key never appears on the wire', () => {
    const c = connect();
    expect(c.session.state).toBe('authenticated');
    expect(c.receive().type).toBe('authOk');
    const wire = Buffer.concat([Buffer.from(c.hs.hello), Buffer.from(c.auth)]);
    expect(wire.indexOf(Buffer.from(c.me.publicKey))).toBe(-1);
    expect(wire.indexOf(Buffer.from(c.me.publicKey.subarray(0, 16)))).toBe(-1);
  });

  it('refuses AUTH whose proof was made without the secret of the sealed key', () => {
    const victim = keys();
    const conn = new Conn();
    const session = new ClientSession(context(), conn);
    const hs = new ClientHandshake(keys().secret, victim.publicKey);
    session.onMessage(hs.hello, true);
    session.onMessage(hs.answer(conn.sent[0]!, linkSizes(g, K))!.auth, true);
    expect(session.state).toBe('closed');
    expect(decodeFrame(g, conn.sent[1]!)).toMatchObject({ type: 'error', code: ErrorCode.AUTH_FAILED });
  });

  for (const [name, attack] of [
    ['a flipped bit', (r: Uint8Array[]) => [Uint8Array.from(r[0]!, (b, i) => (i === 7 ? b ^ 0x20 : b))]],
    ['a replayed record', (r: Uint8Array[]) => [r[0]!, r[0]!]],
    ['reordered records', (r: Uint8Array[]) => [r[1]!, r[0]!]],
    ['a truncated record', (r: Uint8Array[]) => [r[0]!.subarray(0, r[0]!.length - 1)]],
    ['a plaintext PULL', () => [encode.pull(3)]],
  ] as const) {
    it(`closes the session on ${name} (counted as ws_bad_record)`, () => {
      const c = connect();
      c.receive(); // AUTH_OK
      const records = [c.link.seal(encode.pull(1)), c.link.seal(encode.pull(2))];
      const sequence = attack(records);
      for (const r of sequence) c.session.onMessage(r, true);
      expect(c.session.state).toBe('closed');
      expect(counts.get('ws_bad_record')).toBe(1);
      expect(c.conn.ended).toBe(true);
    });
  }

  it('sends every reply as one record size, and every PULL (with or without an ACK) as one size', () => {
    const c = connect();
    c.receive();
    const id = clientIdOf(g, c.me.publicKey);
    const sizes = new Set<number>();
    const pullSizes = new Set<number>();
    for (let i = 1; i <= 6; i++) {
      if (i % 2 === 0)
        inbox.store(
          id,
          native.createPacket(g, {
            epoch: 0x1234,
            hops: [{ publicKey: c.me.publicKey, command: 4, address: new Uint8Array(g.addressBytes), delayUs: 0 }],
            content: new Uint8Array(1),
          }),
        );
      const pull = c.link.seal(encode.pull(i, i - 1));
      pullSizes.add(pull.length);
      c.session.onMessage(pull, true);
      sizes.add(c.conn.sent[0]!.length);
      expect(c.receive().type).toBe('pullReply');
    }
    pullSizes.add(c.link.seal(encode.ack(9)).length);
    expect(sizes.size).toBe(1);
    expect(pullSizes.size).toBe(1);
  });

  it('makes dummies with a stored packet’s prefix and a real group element, which the client’s unwrap rejects like a foreign packet', () => {
    const make = dummyPackets(g, () => 0x1234);
    const me = keys();
    const foreign = native.createPacket(g, {
      epoch: 0x1234,
      hops: [{ publicKey: keys().publicKey, command: 4, address: new Uint8Array(g.addressBytes), delayUs: 0 }],
      content: new Uint8Array(1),
    });
    const topBits = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const d = make();
      expect(d.length).toBe(g.packetBytes);
      expect([...d.subarray(0, g.prefixBytes)]).toEqual([...foreign.subarray(0, g.prefixBytes)]);
      topBits.add(d[g.offsets.alpha + g.groupBytes - 1]! >> 7);
      const alpha = d.subarray(g.offsets.alpha, g.offsets.beta);
      // A real point: X25519 of a fresh scalar with it is not all-zero, as for any honest α.
      expect(native.x25519(x25519.utils.randomSecretKey(), alpha).some((b) => b !== 0)).toBe(true);
      expect(native.unwrap(g, me.secret, d)).toEqual(native.unwrap(g, me.secret, foreign));
    }
    expect(topBits).toEqual(new Set([0])); // like the α of every real packet
    expect(randomGroupElement()).not.toEqual(randomGroupElement());
  });

  /**
   * Time spent by the provider in the ACK of a reply, when that reply carried stored packets (which the ACK
   * deletes) vs when it carried dummies only; the next reply (to this or any client) waits for it. Returns P(real > dummy) over all pairs: 0.5 when
   * the two are the same distribution, near 1 when deleting is on the reply path.
   */
  function ackTiming(removal: DeferredRemoval | undefined, rounds: number): number {
    const c = connect(keys(), context(removal ? { removal } : {}));
    c.receive();
    const id = clientIdOf(g, c.me.publicKey);
    const packet = new Uint8Array(g.packetBytes).fill(7);
    const real: number[] = [];
    const dummy: number[] = [];
    let request = 1;
    for (let i = 0; i < rounds; i++) {
      for (const stored of [true, false]) {
        if (stored) inbox.storeMany(Array.from({ length: K }, () => ({ clientId: id, packet })));
        c.session.onMessage(c.link.seal(encode.pull(request, 0)), true);
        c.receive();
        const ack = c.link.seal(encode.ack(request));
        const t0 = process.hrtime.bigint();
        c.session.onMessage(ack, true);
        const dt = Number(process.hrtime.bigint() - t0);
        c.session.onMessage(c.link.seal(encode.pull(request + 1)), true);
        c.receive();
        removal?.flush(); // off the measured path, as the provider's timer does it
        (stored ? real : dummy).push(dt);
        request += 2;
      }
    }
    let greater = 0;
    for (const a of real) for (const b of dummy) greater += a > b ? 1 : a === b ? 0.5 : 0;
    return greater / (real.length * dummy.length);
  }

  it('deleting acknowledged packets off the reply path: ACKs of stored and of dummy-only replies cost the same', () => {
    // Control: deleting inside the handler (an fsync'ed SQLite transaction) is plainly visible.
    const direct = ackTiming(undefined, 60);
    const deferred = ackTiming(
      new DeferredRemoval(inbox, (err) => {
        throw err;
      }),
      60,
    );
    const seen = `P(stored-ACK slower): direct ${direct.toFixed(2)}, deferred ${deferred.toFixed(2)}`;
    expect(direct, seen).toBeGreaterThan(0.8);
    expect(deferred, seen).toBeGreaterThan(0.25);
    expect(deferred, seen).toBeLessThan(0.75);
    expect(inbox.total()).toBe(0);
  });
});
