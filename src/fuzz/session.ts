/**
 * The WebSocket message handler target: src/provider/sessions.ts's ClientSession — the per-connection state
 * machine the provider runs for every client frame — driven directly with a fake SessionConnection that
 * records what the session sends and when it closes (the state machine is independent of uWebSockets.js).
 *
 * One input is one connection: a list of frames (random, mutated, valid handshakes followed by garbage,
 * text frames, oversized frames), each after a step of a fake clock that drives the rate limits, then a
 * close or a shutdown, then one more frame. The session runs over a real (in-memory) SQLite inbox that holds
 * packets for the fuzz client, and a real ClientLimiter with small buckets.
 *
 * Crashes: an exception escaping onMessage / onClose / shutdown; the session's own internal-error path
 * (`ws_internal_error`, log.error); a send after the connection was ended; a frame it sends that does not
 * decode, or that is not allowed in its state (anything but CHALLENGE before authentication, a PULL_REPLY
 * without exactly pullK packets of packetBytes); an ERROR not followed by a close; an inbox access for any
 * client but the authenticated one; a SUBMIT reaching the pipeline that is not a packetBytes copy.
 */
import { clientIdOf } from '../address.js';
import { DEFAULT_GEOMETRY as g } from '../geometry.js';
import {
  identityKey,
  linkNonce,
  linkProof,
  linkSizes,
  nobleAead,
  RecordLayer,
  sessionKeys,
  transcriptHash,
} from '../protocol/channel.js';
import { decodeFrame, encode, FrameType, unpad, type Frame } from '../protocol/frames.js';
import { openInbox } from '../provider/inbox.js';
import { ClientLimiter } from '../provider/limits.js';
import {
  ClientSession,
  nodeEphemeralKey,
  type EphemeralKey,
  type SessionConnection,
  type SessionContext,
} from '../provider/sessions.js';
import type { Inbox } from '../provider/types.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { FuzzTarget } from './harness.js';
import { fromHex, hexOf, mutateBytes, type Rng } from './rng.js';

const PULL_K = 3;
const MAX_FRAME_BYTES = 4096;
const KEY_NAMES = ['client', 'other', 'zero', 'lowOrder', 'random'] as const;
type KeyName = (typeof KEY_NAMES)[number];

/** One frame of a connection; `dt` ms pass on the fake clock before it. (In JSON, `data` is `hex`.) */
export type FrameSpec =
  | { readonly op: 'raw'; readonly data: Uint8Array; readonly text?: boolean; readonly dt?: number }
  | { readonly op: 'hello'; readonly key: KeyName; readonly dt?: number }
  /** AUTH with the proof for the key of the last HELLO, computed from the session's CHALLENGE; `flip` flips one bit. */
  | { readonly op: 'auth'; readonly flip?: number; readonly dt?: number };

export interface SessionInput {
  readonly registration: 'open' | 'closed';
  /** Use Node's real ephemeral keys (slower) instead of a fixed one. */
  readonly realEphemeral?: boolean;
  readonly frames: readonly FrameSpec[];
  readonly end: 'close' | 'shutdown' | 'none';
}

const fixed = (byte: number) => new Uint8Array(32).fill(byte);

/** X25519 of `backend` as an EphemeralKey (mirrors nodeEphemeralKey: null for a low-order peer). */
function fixedEphemeral(backend: SphinxBackend, secret: Uint8Array): EphemeralKey {
  const publicKey = backend.x25519Base(secret);
  // The fuzzer's HELLO keys repeat: memoise (this stands in for the per-connection key; it is not under test).
  const memo = new Map<string, Uint8Array | null>();
  return {
    publicKey,
    agree(peer) {
      const k = hexOf(peer);
      let s = memo.get(k);
      if (s === undefined) {
        try {
          const shared = backend.x25519(secret, peer);
          s = shared.every((b) => b === 0) ? null : shared;
        } catch {
          s = null;
        }
        if (memo.size < 256) memo.set(k, s);
      }
      return s === null ? null : s.slice(); // the session wipes what it gets
    },
  };
}

class FakeConnection implements SessionConnection {
  ended = false;
  readonly sent: Uint8Array[] = [];
  violation: string | null = null;

  send(frame: Uint8Array): boolean {
    if (this.ended) {
      this.violation ??= `send of a ${frame.length}-byte frame (type 0x${(frame[0] ?? 0).toString(16)}) after end`;
      return false;
    }
    this.sent.push(frame.slice());
    return true;
  }

  end(): void {
    this.ended = true;
  }
}

export function sessionTarget(backend: SphinxBackend): FuzzTarget<SessionInput> {
  const secrets: Record<KeyName, Uint8Array | null> = {
    client: fixed(0x42),
    other: fixed(0x43),
    zero: null,
    lowOrder: null,
    random: null,
  };
  const publicKeys: Record<KeyName, Uint8Array> = {
    client: backend.x25519Base(secrets.client!),
    other: backend.x25519Base(secrets.other!),
    zero: new Uint8Array(32),
    lowOrder: Uint8Array.from([1, ...new Uint8Array(31)]), // u = 1: a point of small order
    random: fixed(0x99),
  };
  const clientHex = hexOf(publicKeys.client);
  const ephemeral = fixedEphemeral(backend, fixed(0x44));

  // The session under test and what the oracle may see, set per input.
  let current: ClientSession | null = null;
  let problem: string | null = null;
  let clock = 0;
  /** The buffer the current frame was handed in (a SUBMIT must reach the pipeline as a copy). */
  let submittedFrom: Uint8Array | null = null;
  const counts = new Map<string, number>();

  const real = openInbox(':memory:', g);
  const clientId = clientIdOf(g, publicKeys.client);
  const refill = () => {
    if (real.count(clientId) < 2)
      for (let i = 0; i < 4; i++) real.store(clientId, new Uint8Array(g.packetBytes).fill(i));
  };
  const mine = (what: string, id: Uint8Array) => {
    const pk = current?.publicKey;
    if (current?.state !== 'authenticated' || !pk) problem ??= `inbox.${what} before authentication`;
    else if (hexOf(clientIdOf(g, pk)) !== hexOf(id)) problem ??= `inbox.${what} for another client's id`;
  };
  const inbox: Inbox = {
    store: (id, p) => {
      problem ??= 'the session stored a packet';
      real.store(id, p);
    },
    fetch: (id, k) => {
      mine('fetch', id);
      return real.fetch(id, k);
    },
    remove: (id, ids) => {
      mine('remove', id);
      real.remove(id, ids);
    },
    count: (id) => real.count(id),
    register: (id) => real.register(id),
    isRegistered: (id) => real.isRegistered(id),
    close: () => real.close(),
  };

  const base = {
    geometry: g,
    pullK: PULL_K,
    allowedClients: new Set([clientHex]),
    maxFrameBytes: MAX_FRAME_BYTES,
    authTimeoutMs: 600_000,
    inbox,
    ingress: {
      submit: (p: Uint8Array) => {
        if (p.length !== g.packetBytes) problem ??= `ingress got ${p.length} bytes`;
        if (submittedFrom && p.buffer === submittedFrom.buffer)
          problem ??= 'ingress got a view of the socket buffer, not a copy';
      },
    },
    count: (name: string, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by),
    log: {
      info() {},
      warn() {},
      error: (o: object, msg?: string) => {
        problem ??= `log.error: ${msg ?? ''} ${JSON.stringify(o, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v))}`;
      },
    },
    now: () => clock,
  };
  // Small buckets so that throttling and RATE_LIMITED closes happen within a few frames; fresh per input, so
  // that an input replays the same way alone as in a run.
  const LIMITS = { submitPerS: 20, submitBurst: 4, pullPerS: 10, pullBurst: 2, maxConnectionsPerAddress: 0 };
  const contexts: Record<'open' | 'closed' | 'openReal', SessionContext> = {
    open: { ...base, registration: 'open', ephemeralKey: () => ephemeral },
    closed: {
      ...base,
      registration: 'closed',
      allowedClients: new Set([hexOf(publicKeys.other)]),
      ephemeralKey: () => ephemeral,
    },
    openReal: { ...base, registration: 'open', ephemeralKey: nodeEphemeralKey },
  };

  /** Valid frames of every type a client (or a confused peer) could send, for mutation. */
  const templates = (): Uint8Array[] => [
    encode.hello(publicKeys.client),
    encode.auth(new Uint8Array(48).fill(6), new Uint8Array(32).fill(7)),
    encode.submit(g, new Uint8Array(g.packetBytes).fill(3)),
    encode.pull(1),
    encode.ack(1),
    encode.challenge(new Uint8Array(32), new Uint8Array(32)),
    encode.authOk(),
    encode.pullReply(g, 1, [new Uint8Array(g.packetBytes)]),
    encode.error(9, 'x'),
  ];
  const TEMPLATES = templates();

  const dt = (r: Rng): number => (r.chance(0.7) ? r.int(50) : r.int(3000));

  function randomFrame(r: Rng, afterAuth: boolean): FrameSpec {
    const roll = r.int(afterAuth ? 20 : 14);
    const raw = (b: Uint8Array, text = false): FrameSpec => ({
      op: 'raw',
      data: b,
      ...(text ? { text } : {}),
      dt: dt(r),
    });
    switch (roll) {
      case 0:
        return { op: 'hello', key: r.pick(KEY_NAMES), dt: dt(r) };
      case 1:
        return { op: 'auth', ...(r.chance(0.5) ? { flip: r.int(256) } : {}), dt: dt(r) };
      case 2:
        return raw(r.bytes(r.int(40)));
      case 3:
        return raw(r.bytes(r.int(40)), true);
      case 4:
        return raw(new Uint8Array(MAX_FRAME_BYTES + 1 + r.int(64)).fill(r.pick([FrameType.SUBMIT, FrameType.PULL, 0])));
      case 5:
        return raw(new Uint8Array(0));
      case 6: {
        const b = new Uint8Array(1 + r.int(2 * g.packetBytes));
        b[0] = r.pick(Object.values(FrameType));
        return raw(b);
      }
      case 7:
      case 8:
      case 9:
        return raw(mutateBytes(r, r.pick(TEMPLATES)));
      case 10:
      case 11:
      case 12:
      case 13:
        return raw(r.pick(TEMPLATES));
      // After a valid handshake: mostly well-formed traffic (SUBMIT floods, PULL / ACK with reused ids).
      case 14:
      case 15:
        return raw(encode.submit(g, r.bytes(g.packetBytes)));
      case 16:
      case 17:
        return raw(encode.pull(r.chance(0.5) ? r.int(4) : r.int(2 ** 32)));
      default:
        return raw(encode.ack(r.chance(0.7) ? r.int(4) : r.int(2 ** 32)));
    }
  }

  function generate(r: Rng): SessionInput {
    const frames: FrameSpec[] = [];
    const mode = r.int(4);
    const handshake = mode <= 1;
    if (handshake) {
      frames.push({ op: 'hello', key: r.chance(0.9) ? 'client' : r.pick(KEY_NAMES), dt: dt(r) });
      frames.push({ op: 'auth', ...(r.chance(0.05) ? { flip: r.int(256) } : {}), dt: dt(r) });
    } else if (mode === 2) {
      frames.push({ op: 'hello', key: r.pick(KEY_NAMES), dt: dt(r) });
    }
    if (handshake && r.chance(0.15)) {
      // a flood: SUBMITs or PULLs faster than the buckets refill (throttling, then RATE_LIMITED)
      const frame = r.chance(0.5) ? encode.submit(g, r.bytes(g.packetBytes)) : encode.pull(r.int(8));
      for (let n = 4 + r.int(24); n > 0; n--) frames.push({ op: 'raw', data: frame, dt: r.int(20) });
    }
    for (let n = 1 + r.int(handshake ? 12 : 5); n > 0; n--) frames.push(randomFrame(r, handshake));
    return {
      registration: r.chance(0.1) ? 'closed' : 'open',
      ...(r.int(64) === 0 ? { realEphemeral: true } : {}),
      frames,
      end: r.pick(['close', 'shutdown', 'close', 'none'] as const),
    };
  }

  const sharedMemo = new Map<string, Uint8Array>();
  const sharedWith = (key: KeyName, secret: Uint8Array, ephemeralKey: Uint8Array): Uint8Array => {
    const k = `${key}:${hexOf(ephemeralKey)}`;
    let s = sharedMemo.get(k);
    if (!s) {
      s = backend.x25519(secret, ephemeralKey);
      if (sharedMemo.size < 64) sharedMemo.set(k, s);
    }
    return s;
  };

  const sizes = linkSizes(g, PULL_K);
  /** The fuzz client's end of the encrypted link: `pending` from its AUTH on, `link` once authenticated. */
  const client: { pending: RecordLayer | null; link: RecordLayer | null } = { pending: null, link: null };

  /**
   * The wire bytes of one frame spec, given what the session sent so far. The fuzz client uses its HELLO key as
   * both its ephemeral and its static key (e_c = s_c), so the handshake needs only the named key's secret.
   * Once the link is up, frames of a type the link carries are sealed (others go as they are: garbage).
   */
  function bytesOf(f: FrameSpec, sent: readonly Uint8Array[], lastHello: KeyName | null): Uint8Array {
    switch (f.op) {
      case 'raw': {
        const size = sizes.toProvider.get(f.data[0] ?? -1);
        return client.link && !f.text && size !== undefined && f.data.length <= size
          ? client.link.seal(f.data)
          : f.data;
      }
      case 'hello':
        return encode.hello(publicKeys[f.key]);
      case 'auth': {
        let challengeBytes: Uint8Array | null = null;
        let challenge: Frame | null = null;
        for (let i = sent.length - 1; i >= 0 && !challenge; i--) {
          const d = decodeFrame(g, sent[i]!);
          if (d.type === 'challenge') {
            challenge = d;
            challengeBytes = sent[i]!;
          }
        }
        const key = lastHello ?? 'client';
        if (!challenge || challenge.type !== 'challenge' || !challengeBytes)
          return encode.auth(new Uint8Array(48), new Uint8Array(32));
        const secret = secrets[key];
        // low-order keys: the all-zero secret anyone knows
        const ee = secret ? sharedWith(key, secret, challenge.ephemeral) : new Uint8Array(32);
        const th = transcriptHash(encode.hello(publicKeys[key]), challengeBytes);
        const sealed = nobleAead.seal(identityKey(th, ee), linkNonce(0), publicKeys[key]);
        const keys = sessionKeys(th, ee, ee);
        const proof = linkProof(keys.auth, th, sealed);
        if (f.flip !== undefined) proof[(f.flip >> 3) % 32]! ^= 1 << (f.flip & 7);
        client.pending = new RecordLayer(keys.c2p, keys.p2c, sizes.toProvider, sizes.toClient, nobleAead);
        return encode.auth(sealed, proof);
      }
    }
  }

  /** A frame the session sent, opened with the client's link when it is a record. */
  function received(bytes: Uint8Array): Uint8Array {
    const link = client.link ?? client.pending;
    if (link) {
      const opened = link.open(bytes);
      if ('frame' in opened) return unpad(g, PULL_K, opened.frame) ?? bytes;
    }
    return bytes;
  }

  function check(input: SessionInput): string {
    const ctx: SessionContext = {
      ...(input.realEphemeral ? contexts.openReal : contexts[input.registration]),
      limiter: new ClientLimiter(LIMITS, () => clock),
    };
    refill();
    problem = null;
    const conn = new FakeConnection();
    const session = new ClientSession(ctx, conn);
    current = session;
    client.pending = client.link = null;
    const internalBefore = counts.get('ws_internal_error') ?? 0;
    let lastHello: KeyName | null = null;
    let checked = 0;
    let state = '';
    const events: string[] = [];
    const verifySends = (stateBefore: string) => {
      for (; checked < conn.sent.length; checked++) {
        const f = decodeFrame(g, received(conn.sent[checked]!));
        events.push(f.type === 'error' ? `error${f.code}` : f.type);
        if (f.type === 'malformed') throw new Error(`the session sent a malformed frame: ${f.reason}`);
        const allowed =
          f.type === 'error' ||
          (f.type === 'challenge' && stateBefore === 'awaitHello') ||
          (f.type === 'authOk' && stateBefore === 'awaitAuth') ||
          (f.type === 'pullReply' && stateBefore === 'authenticated');
        if (!allowed) throw new Error(`the session sent ${f.type} in state ${stateBefore}`);
        if (
          f.type === 'pullReply' &&
          (f.packets.length !== PULL_K || f.packets.some((p) => p.length !== g.packetBytes))
        ) {
          throw new Error(`PULL_REPLY with ${f.packets.length} packets`);
        }
        if (f.type === 'error' && !conn.ended) throw new Error('ERROR frame without a close');
      }
    };
    try {
      for (const f of input.frames) {
        clock += Math.max(0, Math.min(1e7, Number(f.dt ?? 0) || 0));
        const stateBefore = session.state;
        const data = bytesOf(f, conn.sent, lastHello);
        if (f.op === 'hello' && stateBefore === 'awaitHello') lastHello = f.key;
        // The server hands the session a view into a larger buffer (as uWS does), which it reuses afterwards.
        const backing = new Uint8Array(data.length + 16);
        backing.set(data, 8);
        const view = backing.subarray(8, 8 + data.length);
        submittedFrom = view;
        session.onMessage(view, !(f.op === 'raw' && f.text));
        backing.fill(0xee); // anything the session kept without copying is now garbage
        submittedFrom = null;
        if (stateBefore === 'closed' && conn.sent.length > checked)
          throw new Error('the session answered after it was closed');
        verifySends(stateBefore);
        if (client.pending && session.state === 'authenticated') {
          client.link = client.pending;
          client.pending = null;
        }
        if (conn.ended && session.state !== 'closed') throw new Error('connection ended but the session is not closed');
        if (problem) throw new Error(problem);
        if (conn.violation) throw new Error(conn.violation);
      }
      state = session.state;
      if (input.end === 'shutdown') session.shutdown();
      else if (input.end === 'close') session.onClose();
      if (input.end !== 'none') {
        session.onMessage(encode.pull(1), true);
        if (conn.sent.length > checked) throw new Error(`the session sent after ${input.end}`);
      }
      if (problem) throw new Error(problem);
      if (conn.violation) throw new Error(conn.violation);
      if ((counts.get('ws_internal_error') ?? 0) !== internalBefore)
        throw new Error('the session took its internal-error path');
    } finally {
      session.onClose(); // clears the authentication timer and releases the rate-limit buckets
      current = null;
    }
    // What kinds of frames the session sent, in order of first appearance, and how it ended.
    return `${input.registration}:${[...new Set(events)].join(',')}:${state}`;
  }

  return {
    name: 'ws-session',
    share: 0.2,
    generate,
    check,
    toJson: (i) => ({
      ...i,
      frames: i.frames.map((f) =>
        f.op === 'raw' ? { op: 'raw', hex: hexOf(f.data), ...(f.text ? { text: true } : {}), dt: f.dt } : f,
      ),
    }),
    fromJson: (j) => {
      const o = j as Partial<SessionInput>;
      if (!o || !Array.isArray(o.frames)) throw new TypeError('frames must be an array');
      return {
        registration: o.registration === 'closed' ? 'closed' : 'open',
        ...(o.realEphemeral ? { realEphemeral: true } : {}),
        frames: o.frames.map((f): FrameSpec => {
          const s = f as { op?: unknown; key?: unknown; hex?: unknown; text?: unknown; flip?: unknown; dt?: unknown };
          const dt = typeof s.dt === 'number' ? { dt: s.dt } : {};
          if (s.op === 'raw')
            return { op: 'raw', data: fromHex('hex', s.hex), ...(s.text === true ? { text: true } : {}), ...dt };
          if (s.op === 'hello') {
            if (!KEY_NAMES.includes(s.key as KeyName)) throw new TypeError(`unknown key ${String(s.key)}`);
            return { op: 'hello', key: s.key as KeyName, ...dt };
          }
          if (s.op === 'auth') return { op: 'auth', ...(typeof s.flip === 'number' ? { flip: s.flip } : {}), ...dt };
          throw new TypeError(`unknown op ${String(s.op)}`);
        }),
        end: o.end === 'shutdown' || o.end === 'none' ? o.end : 'close',
      };
    },
  };
}
