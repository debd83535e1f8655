/**
 * Native-specific behaviour of the C++ Sphinx addon and its TypeScript wrapper (src/sphinx/native.ts):
 * X25519 fast path vs EVP, hop-by-hop round trips, batch unwrap, argument errors, and robustness against
 * garbage and odd buffer sizes. Known-answer vectors and native<->TS parity live in other test files.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { DEFAULT_GEOMETRY, makeGeometry, UDP_PAYLOAD_LIMIT, type Geometry } from '../src/geometry.js';
import { loadNativeBackend, nativeX25519Evp, nativeX25519Impl } from '../src/sphinx/native.js';
import { decodeRecord } from '../src/sphinx/records.js';
import { Command, INVALID_REASONS, type CommandCode, type HopSpec } from '../src/sphinx/types.js';

const backend = loadNativeBackend();
const g = DEFAULT_GEOMETRY;
const ADDON_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'loopix_sphinx.node');
// The raw addon, to check that its own argument checks hold without the wrapper in front.
const raw = createRequire(import.meta.url)(ADDON_PATH) as Record<string, (...args: unknown[]) => unknown>;

const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

interface Node {
  sk: Uint8Array;
  pk: Uint8Array;
  id: Uint8Array;
}

function makeNodes(geometry: Geometry, n: number): Node[] {
  return Array.from({ length: n }, () => {
    const sk = rand(32);
    return { sk, pk: backend.x25519Base(sk), id: rand(geometry.addressBytes) };
  });
}

/** provider, mixes..., provider (DELIVER), recipient (last command). */
function forwardPath(geometry: Geometry, nodes: Node[], last: CommandCode, lastId: Uint8Array): HopSpec[] {
  return nodes.map((node, i): HopSpec => {
    if (i === nodes.length - 1) return { publicKey: node.pk, command: last, address: lastId, delayUs: 0 };
    const next = nodes[i + 1]!;
    const command = i === nodes.length - 2 ? Command.DELIVER : Command.RELAY;
    return { publicKey: node.pk, command, address: next.id, delayUs: 1000 * (i + 1) + i };
  });
}

describe('native X25519', () => {
  it('fast and EVP X25519 paths agree on random inputs', () => {
    expect(['openssl-internal', 'openssl-evp']).toContain(nativeX25519Impl());
    const base = new Uint8Array(32);
    base[0] = 9;
    for (let i = 0; i < 64; i++) {
      const scalar = rand(32);
      const point = rand(32);
      expect(backend.x25519(scalar, point)).toEqual(nativeX25519Evp(scalar, point));
      expect(backend.x25519Base(scalar)).toEqual(nativeX25519Evp(scalar, base));
    }
  });

  it('returns the all-zero result for a small-order point on both paths', () => {
    const zeroPoint = new Uint8Array(32);
    const scalar = rand(32);
    expect(backend.x25519(scalar, zeroPoint)).toEqual(new Uint8Array(32));
    expect(nativeX25519Evp(scalar, zeroPoint)).toEqual(new Uint8Array(32));
  });
});

describe('native packets', () => {
  it('unwraps a 6-hop forward packet hop by hop to its content', () => {
    const nodes = makeNodes(g, 6);
    const messageId = rand(g.addressBytes);
    const content = rand(g.contentBytes);
    const hops = forwardPath(g, nodes, Command.FINAL, messageId);
    let packet = backend.createPacket(g, { epoch: 513, hops, content });
    expect(packet.length).toBe(g.packetBytes);
    expect([...packet.subarray(0, 4)]).toEqual([1, 0, 2, 1]);
    const tags = new Set<string>();
    for (let i = 0; i < nodes.length; i++) {
      const result = backend.unwrap(g, nodes[i]!.sk, packet);
      expect(packet.length).toBe(g.packetBytes);
      if (result.kind === 'invalid') throw new Error(`hop ${i}: invalid ${result.reason}`);
      tags.add(Buffer.from(result.replayTag).toString('hex'));
      if (i < 4) {
        expect(result).toMatchObject({ kind: 'relay', next: nodes[i + 1]!.id, delayUs: hops[i]!.delayUs });
      } else if (i === 4) {
        expect(result).toMatchObject({ kind: 'deliver', client: nodes[5]!.id, delayUs: hops[4]!.delayUs });
      } else {
        expect(result.kind).toBe('final');
        if (result.kind !== 'final') return;
        expect(result.id).toEqual(messageId);
        expect(Uint8Array.from(result.content)).toEqual(content);
      }
      packet = Uint8Array.from(packet);
    }
    expect(tags.size).toBe(6);
  });

  it('pads short content with zeros and rejects a packet for the wrong key as mac', () => {
    const nodes = makeNodes(g, 1);
    const packet = backend.createPacket(g, {
      epoch: 0,
      hops: [{ publicKey: nodes[0]!.pk, command: Command.LOOP, address: nodes[0]!.id, delayUs: 0 }],
      content: Uint8Array.of(1, 2, 3),
    });
    expect(backend.unwrap(g, rand(32), Uint8Array.from(packet))).toEqual({ kind: 'invalid', reason: 'mac' });
    const result = backend.unwrap(g, nodes[0]!.sk, packet);
    expect(result.kind).toBe('loop');
    if (result.kind !== 'loop') return;
    const expected = new Uint8Array(g.contentBytes);
    expected.set([1, 2, 3]);
    expect(Uint8Array.from(result.content)).toEqual(expected);
  });

  it('is deterministic for a fixed seed', () => {
    const nodes = makeNodes(g, 3);
    const spec = { epoch: 7, hops: forwardPath(g, nodes, Command.FINAL, rand(16)), content: rand(100), seed: rand(32) };
    expect(backend.createPacket(g, spec)).toEqual(backend.createPacket(g, spec));
    expect(backend.createPacket(g, spec)).not.toEqual(backend.createPacket(g, { ...spec, seed: rand(32) }));
  });

  it('round-trips the smallest and the largest geometry', () => {
    // The largest: most hops and widest addresses, with all the content one UDP datagram can still carry.
    const widest = makeGeometry({ maxHops: 32, addressBytes: 64, contentBytes: 32 });
    for (const geometry of [
      makeGeometry({ maxHops: 1, addressBytes: 8, contentBytes: 32 }),
      makeGeometry({
        maxHops: 32,
        addressBytes: 64,
        contentBytes: UDP_PAYLOAD_LIMIT - (widest.datagramBytes - widest.contentBytes),
      }),
    ]) {
      const nodes = makeNodes(geometry, geometry.maxHops);
      const content = rand(geometry.contentBytes);
      const id = rand(geometry.addressBytes);
      const packet = backend.createPacket(geometry, {
        epoch: 65535,
        hops: forwardPath(geometry, nodes, Command.FINAL, id),
        content,
      });
      let result;
      for (const node of nodes) result = backend.unwrap(geometry, node.sk, packet);
      expect(result).toMatchObject({ kind: 'final', id });
      if (result?.kind === 'final') expect(Uint8Array.from(result.content)).toEqual(content);
    }
  });

  it('delivers drop cover and SURB replies', () => {
    const nodes = makeNodes(g, 3);
    const drop = backend.createPacket(g, {
      epoch: 1,
      hops: [
        { publicKey: nodes[0]!.pk, command: Command.RELAY, address: nodes[1]!.id, delayUs: 5 },
        { publicKey: nodes[1]!.pk, command: Command.DROP, address: new Uint8Array(g.addressBytes), delayUs: 0 },
      ],
      content: new Uint8Array(0),
    });
    expect(backend.unwrap(g, nodes[0]!.sk, drop).kind).toBe('relay');
    expect(backend.unwrap(g, nodes[1]!.sk, drop).kind).toBe('drop');

    const surbId = rand(g.addressBytes);
    const { surb, decryptionKeys } = backend.createSurb(g, {
      epoch: 1,
      hops: forwardPath(g, nodes, Command.SURB_REPLY, surbId),
      firstHop: nodes[0]!.id,
    });
    expect(surb.length).toBe(g.surbBytes);
    expect(decryptionKeys.length).toBe(4 * 128);
    const content = rand(g.contentBytes);
    const reply = backend.createSurbReply(g, surb, content);
    expect(reply.firstHop).toEqual(nodes[0]!.id);
    let result;
    for (const node of nodes) result = backend.unwrap(g, node.sk, reply.packet);
    expect(result?.kind).toBe('surbReply');
    if (result?.kind !== 'surbReply') return;
    expect(result.id).toEqual(surbId);
    expect(backend.openSurbReply(g, decryptionKeys, result.payload)).toEqual(content);
    const tampered = Uint8Array.from(result.payload);
    tampered[500]! ^= 1;
    expect(backend.openSurbReply(g, decryptionKeys, tampered)).toBeNull();
  });

  it('batch unwrap equals single unwraps, on a view into a larger ArrayBuffer', () => {
    const nodes = makeNodes(g, 2);
    const mix = nodes[0]!;
    const n = 6;
    const packets = Array.from({ length: n }, (_, i) =>
      backend.createPacket(g, {
        epoch: 3,
        hops: [
          {
            publicKey: mix.pk,
            command: i % 2 ? Command.RELAY : Command.DELIVER,
            address: nodes[1]!.id,
            delayUs: i * 77,
          },
          { publicKey: nodes[1]!.pk, command: Command.FINAL, address: rand(g.addressBytes), delayUs: 0 },
        ],
        content: rand(g.contentBytes),
      }),
    );
    packets[2] = rand(g.packetBytes); // garbage
    packets[3]![100]! ^= 0x40; // tampered beta
    const offset = 24;
    const backing = new ArrayBuffer(offset + n * g.packetBytes + 16);
    const batch = new Uint8Array(backing, offset, n * g.packetBytes);
    packets.forEach((p, i) => batch.set(p, i * g.packetBytes));
    const records = new Uint8Array(new ArrayBuffer(8 + n * g.recordBytes), 8, n * g.recordBytes);
    expect(backend.unwrapBatch(g, mix.sk, batch, records)).toBe(n);
    for (let i = 0; i < n; i++) {
      const single = Uint8Array.from(packets[i]!);
      const expected = backend.unwrap(g, mix.sk, single);
      const packet = batch.subarray(i * g.packetBytes, (i + 1) * g.packetBytes);
      expect(decodeRecord(g, records, i, packet)).toEqual(expected);
      if (expected.kind !== 'invalid') expect(packet).toEqual(single);
    }
    expect(decodeRecord(g, records, 2, batch.subarray(0, 0)).kind).toBe('invalid');
    expect(decodeRecord(g, records, 3, batch.subarray(0, 0))).toEqual({ kind: 'invalid', reason: 'mac' });
    expect(backend.unwrapBatch(g, mix.sk, new Uint8Array(0), new Uint8Array(0))).toBe(0);
  });

  it('works in several worker threads at once', async () => {
    const nodes = makeNodes(g, 1);
    const packets = Array.from({ length: 8 }, () =>
      backend.createPacket(g, {
        epoch: 0,
        hops: [{ publicKey: nodes[0]!.pk, command: Command.FINAL, address: nodes[0]!.id, delayUs: 0 }],
        content: rand(64),
      }),
    );
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.path);
      const { sk, packets, rounds } = workerData;
      const kinds = [];
      for (let r = 0; r < rounds; r++) {
        for (const p of packets) {
          const copy = Uint8Array.from(p);
          kinds.push(addon.unwrap(6, 16, 1024, sk, copy, new Uint8Array(56)));
        }
      }
      parentPort.postMessage(kinds);
    `;
    const run = (): Promise<number[]> =>
      new Promise((resolveRun, reject) => {
        const worker = new Worker(source, {
          eval: true,
          workerData: { path: ADDON_PATH, sk: nodes[0]!.sk, packets, rounds: 20 },
        });
        worker.once('message', resolveRun);
        worker.once('error', reject);
      });
    const results = await Promise.all([run(), run(), run()]);
    for (const kinds of results) expect(kinds.every((k) => k === 4)).toBe(true);
  });
});

describe('native robustness', () => {
  it('returns invalid for random garbage and never throws', () => {
    const sk = rand(32);
    const reasons = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const packet = rand(g.packetBytes);
      if (i % 3 !== 0) {
        packet[0] = 1;
        packet[1] = 0;
      }
      if (i % 10 === 1) packet.fill(0, 4, 36); // small-order alpha
      const result = backend.unwrap(g, sk, packet);
      expect(result.kind).toBe('invalid');
      if (result.kind === 'invalid') reasons.add(result.reason);
    }
    expect([...reasons].sort()).toEqual(['mac', 'point', 'version']);
  });

  it('reports tampering at the final hop as integrity', () => {
    const nodes = makeNodes(g, 1);
    const packet = backend.createPacket(g, {
      epoch: 0,
      hops: [{ publicKey: nodes[0]!.pk, command: Command.FINAL, address: nodes[0]!.id, delayUs: 0 }],
      content: rand(10),
    });
    packet[g.packetBytes - 1]! ^= 0x80;
    expect(backend.unwrap(g, nodes[0]!.sk, packet)).toEqual({ kind: 'invalid', reason: 'integrity' });
  });

  it('does not crash on empty, truncated or oversized buffers', () => {
    const sk = rand(32);
    for (const size of [0, 1, 36, g.headerBytes, g.packetBytes - 1, g.packetBytes + 1, 2 * g.packetBytes]) {
      expect(backend.unwrap(g, sk, rand(size))).toEqual({ kind: 'invalid', reason: 'length' });
      // The addon itself writes a length record for a wrong-length packet.
      const record = new Uint8Array(g.recordBytes).fill(0xee);
      expect(raw.unwrap!(6, 16, 1024, sk, rand(size), record)).toBe(0);
      expect([record[0], record[1]]).toEqual([0, INVALID_REASONS.indexOf('length') + 1]);
      expect(record.subarray(2).every((b) => b === 0)).toBe(true);
    }
    const keys = rand(3 * 128);
    for (const size of [0, 1, g.payloadBytes - 1, g.payloadBytes + 1]) {
      expect(backend.openSurbReply(g, keys, rand(size))).toBeNull();
    }
    expect(backend.openSurbReply(g, keys, rand(g.payloadBytes))).toBeNull();
    // A detached buffer (transferred away) is a zero-length view.
    const detached = new Uint8Array(new ArrayBuffer(g.packetBytes));
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(backend.unwrap(g, sk, detached)).toEqual({ kind: 'invalid', reason: 'length' });
  });
});

describe('native argument errors', () => {
  const nodes = makeNodes(g, 2);
  const hops = forwardPath(g, nodes, Command.FINAL, rand(16));

  it('name the argument and the expected length', () => {
    expect(() => backend.unwrap(g, rand(31), rand(g.packetBytes))).toThrow(
      new RangeError('privateKey must be 32 bytes, got 31'),
    );
    expect(() => backend.unwrap(g, 'key' as unknown as Uint8Array, rand(g.packetBytes))).toThrow(TypeError);
    expect(() => backend.x25519(rand(32), rand(33))).toThrow(/point must be 32 bytes, got 33/);
    expect(() => backend.aes128Ctr(rand(15), rand(16), rand(1))).toThrow(/key must be 16 bytes, got 15/);
    expect(() => backend.lionessEncrypt(rand(127), rand(100))).toThrow(/key must be 128 bytes, got 127/);
    expect(() => backend.lionessDecrypt(rand(128), rand(32))).toThrow(RangeError);
    expect(() => backend.hkdfSha256(rand(1), rand(1), rand(1), 255 * 32 + 1)).toThrow(RangeError);
    expect(() => backend.createPacket(g, { epoch: 0, hops, content: rand(1), seed: rand(31) })).toThrow(
      /seed must be 32 bytes, got 31/,
    );
    expect(() => backend.createPacket(g, { epoch: 65536, hops, content: rand(1) })).toThrow(RangeError);
    expect(() => backend.createPacket(g, { epoch: 0, hops, content: rand(g.contentBytes + 1) })).toThrow(
      /content must be at most 1024 bytes/,
    );
    expect(() => backend.createPacket(g, { epoch: 0, hops: [], content: rand(1) })).toThrow(RangeError);
    expect(() => backend.createPacket(g, { epoch: 0, hops: Array(7).fill(hops[0]), content: rand(1) })).toThrow(
      RangeError,
    );
    expect(() =>
      backend.createPacket(g, { epoch: 0, hops: [{ ...hops[0]!, command: 9 as CommandCode }], content: rand(1) }),
    ).toThrow(/hops\[0\]\.command/);
    expect(() =>
      backend.createPacket(g, { epoch: 0, hops: [{ ...hops[0]!, delayUs: 2 ** 32 }], content: rand(1) }),
    ).toThrow(/hops\[0\]\.delayUs/);
    expect(() =>
      backend.createPacket(g, { epoch: 0, hops: [{ ...hops[0]!, address: rand(15) }], content: rand(1) }),
    ).toThrow(/hops\[0\]\.address must be 16 bytes, got 15/);
    expect(() =>
      backend.createPacket(g, { epoch: 0, hops: [{ ...hops[0]!, publicKey: new Uint8Array(32) }], content: rand(1) }),
    ).toThrow(/hops\[0\]\.publicKey/);
    expect(() => backend.createSurb(g, { epoch: 0, hops, firstHop: nodes[0]!.id })).toThrow(/SURB_REPLY/);
    expect(() => backend.createSurbReply(g, rand(g.surbBytes - 1), rand(1))).toThrow(/surb must be 322 bytes, got 321/);
    expect(() => backend.openSurbReply(g, rand(128), rand(g.payloadBytes))).toThrow(RangeError);
  });

  it('reject a batch that is not a whole number of packets or lacks record space', () => {
    const sk = rand(32);
    expect(() => backend.unwrapBatch(g, sk, rand(g.packetBytes + 1), new Uint8Array(2 * g.recordBytes))).toThrow(
      RangeError,
    );
    expect(() => backend.unwrapBatch(g, sk, rand(2 * g.packetBytes), new Uint8Array(2 * g.recordBytes - 1))).toThrow(
      /records must be at least 112 bytes/,
    );
  });

  it('are also checked by the addon itself', () => {
    const sk = rand(32);
    const packet = rand(g.packetBytes);
    expect(() => raw.unwrap!()).toThrow(TypeError);
    expect(() => raw.unwrap!(6, 16, 1024, sk, packet, new Uint8Array(55))).toThrow(/record must be at least 56 bytes/);
    expect(() => raw.unwrap!(0, 16, 1024, sk, packet, new Uint8Array(56))).toThrow(RangeError);
    expect(() => raw.unwrap!(6, 16.5, 1024, sk, packet, new Uint8Array(56))).toThrow(TypeError);
    expect(() => raw.unwrap!(6, 16, 65001, sk, packet, new Uint8Array(56))).toThrow(RangeError);
    expect(() => raw.unwrap!(6, 16, 1024, new Uint16Array(16), packet, new Uint8Array(56))).toThrow(TypeError);
    expect(() => raw.unwrapBatch!(6, 16, 1024, sk, rand(10), new Uint8Array(56))).toThrow(RangeError);
    expect(() => raw.unwrapBatch!(6, 16, 1024, sk, rand(2 * g.packetBytes), new Uint8Array(56))).toThrow(RangeError);
    expect(() => raw.x25519!(rand(32))).toThrow(TypeError);
    expect(() => raw.hkdfSha256!(rand(1), rand(1), rand(1), -1)).toThrow(RangeError);
    expect(() => raw.createPacket!(6, 16, 1024, 0, rand(32), rand(21), rand(1), rand(32), new Uint8Array(1))).toThrow(
      RangeError,
    );
    expect(() =>
      raw.createPacket!(6, 16, 1024, 0, rand(33), rand(21), rand(1), rand(32), new Uint8Array(g.packetBytes)),
    ).toThrow(/publicKeys/);
    expect(() =>
      raw.createPacket!(6, 16, 1024, 0, rand(32), rand(20), rand(1), rand(32), new Uint8Array(g.packetBytes)),
    ).toThrow(/routing must be 21 bytes/);
    const badCommand = new Uint8Array(21);
    expect(() =>
      raw.createPacket!(6, 16, 1024, 0, rand(32), badCommand, rand(1), rand(32), new Uint8Array(g.packetBytes)),
    ).toThrow(/command/);
    expect(() => raw.openSurbReply!(6, 16, 1024, rand(200), rand(g.payloadBytes), new Uint8Array(1024))).toThrow(
      RangeError,
    );
    expect(() =>
      raw.createSurbReply!(6, 16, 1024, rand(g.surbBytes), rand(1025), new Uint8Array(g.packetBytes)),
    ).toThrow(RangeError);
  });
});

describe('native symmetric primitives against OpenSSL’s own HMAC and HKDF (node:crypto)', () => {
  it('agree on random keys, messages and lengths', async () => {
    const { createHmac, hkdfSync, randomBytes } = await import('node:crypto');
    const { loadNativeBackend: load } = await import('../src/sphinx/native.js');
    const b = load();
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(i % 150);
      const msg = randomBytes((i * 37) % 2000);
      expect(Buffer.from(b.hmacSha256(key, msg)).toString('hex')).toBe(
        createHmac('sha256', key).update(msg).digest('hex'),
      );
      const len = 1 + ((i * 53) % 255);
      const expected = Buffer.from(hkdfSync('sha256', msg, key, randomBytes(0), len)).toString('hex');
      expect(Buffer.from(b.hkdfSha256(key, msg, new Uint8Array(0), len)).toString('hex')).toBe(expected);
    }
  });
});
