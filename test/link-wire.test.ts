/**
 * Receiver unobservability on the wire (Loopix §4.1.2; AnonPoP §4): what a passive observer of the client ↔
 * provider WebSocket records must not separate pull replies that carry stored packets from replies of dummies
 * only. A real provider process (`loopix provider`), a real client (ProviderConnection) and, between them, a TCP
 * proxy on loopback that records the raw bytes the provider sends, parsed into WebSocket frames by this test
 * (not by any loopix code). Packets for the client reach the provider over UDP at random moments, as the last
 * mix layer would send them, so some replies hold stored packets and some hold none.
 *
 * Labels come from the client (it unwraps what each reply held); the evidence is the captured bytes only:
 *  - every reply frame of both classes has one size;
 *  - at every byte offset of a reply frame, the distribution of byte values (9 bins) is the same in both classes:
 *    a 2 × 9 χ² contingency test per offset, Bonferroni-corrected over all offsets at family-wise α = 0.001.
 * Against the plaintext link this fails at once (a stored packet starts with the version byte 0x01 and carries
 * an X25519 point whose top bit is 0 where a dummy had random bytes).
 */

import net from 'node:net';

import { x25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { clientIdOf } from '../src/address.js';
import { ProviderConnection } from '../src/client/connection.js';
import { nodeWebSocket } from '../src/client/node.js';
import { gammaSurvival } from '../src/mixing/stats.js';
import { Command } from '../src/sphinx/types.js';
import { type TestnetFiles } from '../src/testnet/network.js';
import { LONE_PROVIDER_PARAMS, startLoneProvider } from './helpers/lone-provider.js';
import type { ProcessNet } from './helpers/process-net.js';
import { native } from './helpers/backends.js';
import { LinkPeer } from './helpers/link-peer.js';

const PULL_K = 4;
const PULL_INTERVAL_MS = 40;
/** Replies wanted per class. */
const PER_CLASS = 110;
const BINS = 9; // df = 8 (an even df keeps the χ² tail an Erlang sum, src/mixing/stats.ts gammaSurvival)
const FAMILY_ALPHA = 0.001;
const params = { ...LONE_PROVIDER_PARAMS, pullIntervalMs: PULL_INTERVAL_MS, pullK: PULL_K };

let pn: ProcessNet | undefined;
let files: TestnetFiles;
/** The mix the provider hears from: stored packets reach the provider over an authenticated node link. */
let udp: LinkPeer;

beforeAll(async () => {
  ({ pn, mix: udp } = await startLoneProvider({ prefix: 'loopix-wire-', params }));
  files = pn.files;
}, 60_000);

afterAll(async () => {
  udp?.socket.close();
  await pn?.close();
});

/** Splits a server → client byte stream into WebSocket frame payloads (RFC 6455 §5.2; server frames are unmasked). */
class FrameParser {
  #buf = Buffer.alloc(0);
  #upgraded = false;
  readonly frames: { opcode: number; payload: Buffer }[] = [];

  push(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    if (!this.#upgraded) {
      // The HTTP/1.1 101 response to the upgrade comes first.
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.#buf = this.#buf.subarray(end + 4);
      this.#upgraded = true;
    }
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b[1]! & 0x80) at += 4; // a mask key (not sent by a server)
      if (b.length < at + len) return;
      this.frames.push({ opcode: b[0]! & 0x0f, payload: Buffer.from(b.subarray(at, at + len)) });
      this.#buf = b.subarray(at + len);
    }
  }
}

/** A loopback TCP proxy to `port` that records what the server sends. */
async function recordingProxy(port: number): Promise<{ port: number; parser: FrameParser; close: () => void }> {
  const parser = new FrameParser();
  const sockets: net.Socket[] = [];
  const server = net.createServer((downstream) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.push(downstream, upstream);
    upstream.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      downstream.write(chunk);
    });
    downstream.pipe(upstream);
    const end = () => {
      downstream.destroy();
      upstream.destroy();
    };
    upstream.on('error', end).on('close', end);
    downstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    parser,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** χ² statistic of a 2 × B contingency table (rows: classes), columns with no observation skipped; and its df. */
function contingency(a: readonly number[], b: readonly number[]): { stat: number; df: number } {
  const na = a.reduce((s, x) => s + x, 0);
  const nb = b.reduce((s, x) => s + x, 0);
  let stat = 0;
  let cols = 0;
  for (let j = 0; j < a.length; j++) {
    const col = a[j]! + b[j]!;
    if (col === 0) continue;
    cols++;
    const ea = (col * na) / (na + nb);
    const eb = (col * nb) / (na + nb);
    stat += (a[j]! - ea) ** 2 / ea + (b[j]! - eb) ** 2 / eb;
  }
  return { stat, df: cols - 1 };
}

it('no byte position and no frame size of a pull reply on the wire separates replies with stored packets from dummy-only ones', async () => {
  const g = files.index.geometry;
  const entry = files.index.providers[0]!;
  const secret = x25519.utils.randomSecretKey();
  const me = { secret, publicKey: x25519.getPublicKey(secret) };
  const proxy = await recordingProxy(Number(new URL(entry.ws!).port));
  /** Per reply received by the client, in order: how many of its packets were stored ones (unwrap as FINAL). */
  const realPerReply: number[] = [];
  let seq = 0;
  const deliver = (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = new Uint8Array(g.addressBytes);
      new DataView(id.buffer).setUint32(0, ++seq);
      const packet = native.createPacket(g, {
        epoch: files.topology.epoch & 0xffff,
        hops: [
          {
            publicKey: Uint8Array.from(Buffer.from(entry.publicKey, 'hex')),
            command: Command.DELIVER,
            address: clientIdOf(g, me.publicKey),
            delayUs: 0,
          },
          { publicKey: me.publicKey, command: Command.FINAL, address: id, delayUs: 0 },
        ],
        content: id,
      });
      udp.socket.send(udp.seal(packet, entry), entry.udp.port, entry.udp.host);
    }
  };
  const conn = new ProviderConnection({
    url: `ws://127.0.0.1:${proxy.port}/`,
    webSocket: nodeWebSocket,
    geometry: g,
    publicKey: me.publicKey,
    privateKey: me.secret,
    x25519: (s, p) => native.x25519(s, p),
    pullIntervalMs: PULL_INTERVAL_MS,
    pullK: PULL_K,
    onPackets: (packets) => {
      realPerReply.push(packets.filter((p) => native.unwrap(g, me.secret, p).kind === 'final').length);
      // Half of the time, stored packets for the coming pulls; the rest of the time the inbox runs dry.
      if (Math.random() < 0.5) deliver(1 + Math.floor(Math.random() * PULL_K));
    },
  });
  conn.start();
  try {
    await conn.waitConnected(15_000);
    await vi.waitFor(
      () => {
        const real = realPerReply.filter((n) => n > 0).length;
        expect(
          Math.min(real, realPerReply.length - real),
          `replies by stored count: ${JSON.stringify(realPerReply)}`,
        ).toBeGreaterThanOrEqual(PER_CLASS);
      },
      { timeout: 90_000, interval: 100 },
    );
  } finally {
    await conn.stop();
    proxy.close();
  }
  expect(conn.stats.authenticated).toBe(1);

  // The provider's binary frames: CHALLENGE, AUTH_OK, then one frame per pull reply, in order.
  const binary = proxy.parser.frames.filter((f) => f.opcode === 2).map((f) => f.payload);
  const replies = binary.slice(2, 2 + realPerReply.length);
  expect(replies.length).toBe(realPerReply.length);
  const real = replies.filter((_, i) => realPerReply[i]! > 0);
  const dummy = replies.filter((_, i) => realPerReply[i] === 0);

  // 1. One size for every reply, whatever it carries.
  expect(new Set(real.map((f) => f.length))).toEqual(new Set(dummy.map((f) => f.length)));
  expect(new Set(replies.map((f) => f.length)).size).toBe(1);

  // 2. Per offset: the byte values of the two classes come from one distribution.
  const length = replies[0]!.length;
  const alpha = FAMILY_ALPHA / length;
  const separating: { offset: number; p: number }[] = [];
  const histogram = (frames: readonly Buffer[], offset: number) => {
    const h = new Array<number>(BINS).fill(0);
    for (const f of frames) h[Math.floor((f[offset]! * BINS) / 256)]!++;
    return h;
  };
  for (let offset = 0; offset < length; offset++) {
    const { stat, df } = contingency(histogram(real, offset), histogram(dummy, offset));
    if (df < 1) continue; // one constant value in both classes: nothing separates them here
    const p = df % 2 === 0 ? gammaSurvival(df / 2, 0.5, stat) : gammaSurvival((df + 1) / 2, 0.5, stat); // odd df: a conservative bound
    if (p < alpha) separating.push({ offset, p });
  }
  expect(
    separating.slice(0, 10),
    `${separating.length} of ${length} offsets separate stored from dummy replies`,
  ).toEqual([]);
}, 150_000);
