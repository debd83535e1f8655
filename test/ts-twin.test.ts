/**
 * Behaviour of the TypeScript twin on its own (docs/packet-format.md): paths, commands, SURBs, determinism,
 * the lifted-scalar shortcut, tamper detection and argument errors. Known-answer vectors and native parity
 * live in their own test files.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GEOMETRY, makeGeometry, type Geometry } from '../src/geometry.js';
import { decodeRecord } from '../src/sphinx/records.js';
import { tsBackend as ts } from '../src/sphinx/ts/index.js';
import { hopPrk, payloadKeys, seedKeys } from '../src/sphinx/ts/keys.js';
import { sealHeader } from '../src/sphinx/ts/packet.js';
import { x25519Unchecked } from '../src/sphinx/ts/primitives.js';
import { clamp, ELL, fromLE, initialExponent, lift, nextExponent } from '../src/sphinx/ts/scalar.js';
import { mulBase, mulPublic } from '../src/sphinx/ts/group.js';
import { Command, type CommandCode, type HopSpec, type UnwrapResult } from '../src/sphinx/types.js';

const g = DEFAULT_GEOMETRY;

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
function prng(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

interface Node {
  readonly sk: Uint8Array;
  readonly pk: Uint8Array;
  readonly id: Uint8Array;
}

function nodes(geo: Geometry, count: number, rnd = prng(count * 7919)): Node[] {
  return Array.from({ length: count }, () => {
    const sk = rnd(32);
    return { sk, pk: ts.x25519Base(sk), id: rnd(geo.addressBytes) };
  });
}

/** hop i is told `commands[i]`; its address is the next node's id (or a message id on the last hop). */
function path(geo: Geometry, ns: Node[], commands: CommandCode[], messageId: Uint8Array): HopSpec[] {
  return ns.map((n, i) => ({
    publicKey: n.pk,
    command: commands[i]!,
    address:
      i + 1 < ns.length ? ns[i + 1]!.id : commands[i] === Command.DROP ? new Uint8Array(geo.addressBytes) : messageId,
    delayUs: i + 1 < ns.length ? 1000 * (i + 1) : 0,
  }));
}

const FORWARD: CommandCode[] = [
  Command.RELAY,
  Command.RELAY,
  Command.RELAY,
  Command.RELAY,
  Command.DELIVER,
  Command.FINAL,
];

/** Commands of a ν-hop path that ends with `last`. */
const commandsFor = (nu: number, last: CommandCode): CommandCode[] =>
  Array.from({ length: nu }, (_, i) => (i === nu - 1 ? last : Command.RELAY));

/** Unwraps hop by hop; returns every result and checks the packet length at every hop. */
function walk(geo: Geometry, ns: Node[], packet: Uint8Array): UnwrapResult[] {
  const results: UnwrapResult[] = [];
  for (const n of ns) {
    expect(packet.length).toBe(geo.packetBytes);
    const r = ts.unwrap(geo, n.sk, packet);
    results.push(r);
    expect(packet.length).toBe(geo.packetBytes);
    if (r.kind !== 'relay' && r.kind !== 'deliver') break;
  }
  return results;
}

const alphaOf = (geo: Geometry, p: Uint8Array): Uint8Array => p.slice(geo.offsets.alpha, geo.offsets.beta);
const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

describe('forward packets', () => {
  const ns = nodes(g, 6);
  const rnd = prng(42);
  const msgId = rnd(g.addressBytes);
  /** A ν-hop packet over the first ν nodes, ending with `last`, unwrapped hop by hop. */
  const alongPath = (nu: number, last: CommandCode, epoch: number, content: Uint8Array): UnwrapResult[] => {
    const sub = ns.slice(0, nu);
    return walk(g, sub, ts.createPacket(g, { epoch, hops: path(g, sub, commandsFor(nu, last), msgId), content }));
  };

  it('a 6-hop packet unwraps hop by hop: relay ×4, deliver, final with the content sent', () => {
    const content = rnd(g.contentBytes);
    const packet = ts.createPacket(g, { epoch: 7, hops: path(g, ns, FORWARD, msgId), content });
    expect(packet.length).toBe(g.packetBytes);
    expect(packet[0]).toBe(1);
    expect(packet[3]).toBe(7);
    const results = walk(g, ns, packet);
    expect(results.map((r) => r.kind)).toEqual(['relay', 'relay', 'relay', 'relay', 'deliver', 'final']);
    results.slice(0, 4).forEach((r, i) => {
      if (r.kind !== 'relay') throw new Error('expected relay');
      expect(r.next).toEqual(ns[i + 1]!.id);
      expect(r.delayUs).toBe(1000 * (i + 1));
      expect(r.replayTag.length).toBe(g.replayTagBytes);
    });
    const deliver = results[4]!;
    if (deliver.kind !== 'deliver') throw new Error('expected deliver');
    expect(deliver.client).toEqual(ns[5]!.id);
    expect(deliver.delayUs).toBe(5000);
    const final = results[5]!;
    if (final.kind !== 'final') throw new Error('expected final');
    expect(final.id).toEqual(msgId);
    expect(final.content).toEqual(content);
  });

  it('short content is zero-padded to C bytes', () => {
    const content = rnd(10);
    const packet = ts.createPacket(g, { epoch: 0, hops: path(g, ns, FORWARD, msgId), content });
    const final = walk(g, ns, packet).at(-1)!;
    if (final.kind !== 'final') throw new Error(`expected final, got ${final.kind}`);
    expect(final.content.length).toBe(g.contentBytes);
    expect(final.content.subarray(0, 10)).toEqual(content);
    expect(final.content.subarray(10).every((b) => b === 0)).toBe(true);
  });

  it('paths of 1..r hops all work', () => {
    for (let nu = 1; nu <= g.maxHops; nu++) {
      const content = rnd(100);
      const results = alongPath(nu, Command.FINAL, 1, content);
      expect(results.map((r) => r.kind)).toEqual([...Array<string>(nu - 1).fill('relay'), 'final']);
      const final = results.at(-1)!;
      if (final.kind !== 'final') throw new Error('expected final');
      expect(final.content.subarray(0, 100)).toEqual(content);
    }
  });

  it('works with other geometries (r = 1, r = 3 with 8-byte addresses, r = 10)', () => {
    for (const params of [
      { maxHops: 1 },
      { maxHops: 3, addressBytes: 8, contentBytes: 32 },
      { maxHops: 10, contentBytes: 2000 },
    ]) {
      const geo = makeGeometry(params);
      const gn = nodes(geo, geo.maxHops, prng(geo.maxHops));
      const content = prng(5)(geo.contentBytes);
      const id = prng(6)(geo.addressBytes);
      const packet = ts.createPacket(geo, {
        epoch: 2,
        hops: path(geo, gn, commandsFor(geo.maxHops, Command.FINAL), id),
        content,
      });
      expect(packet.length).toBe(geo.packetBytes);
      const final = walk(geo, gn, packet).at(-1)!;
      if (final.kind !== 'final') throw new Error(`expected final, got ${final.kind}`);
      expect(final.content).toEqual(content);
      expect(final.id).toEqual(id);
    }
  });

  it('a loop ends in a loop result carrying its id and content', () => {
    for (const nu of [1, 3, 6]) {
      const content = rnd(64);
      const last = alongPath(nu, Command.LOOP, 3, content).at(-1)!;
      if (last.kind !== 'loop') throw new Error(`expected loop, got ${last.kind}`);
      expect(last.id).toEqual(msgId);
      expect(last.content.subarray(0, 64)).toEqual(content);
    }
  });

  it('a drop command ends in a drop result', () => {
    for (const nu of [1, 4]) {
      const last = alongPath(nu, Command.DROP, 3, new Uint8Array(0)).at(-1)!;
      expect(last.kind).toBe('drop');
      if (last.kind === 'drop') expect(last.replayTag.length).toBe(g.replayTagBytes);
    }
  });
});

describe('SURBs', () => {
  const ns = nodes(g, 6, prng(99));
  const surbId = prng(100)(g.addressBytes);
  const reply = (nu: number, seed?: Uint8Array) => {
    const sub = ns.slice(0, nu);
    const hops = path(g, sub, commandsFor(nu, Command.SURB_REPLY), surbId);
    return { sub, surb: ts.createSurb(g, { epoch: 9, hops, firstHop: sub[0]!.id, seed }) };
  };

  it('create → reply → unwrap at every hop → openSurbReply returns the content', () => {
    for (const nu of [1, 2, 6]) {
      const { sub, surb } = reply(nu);
      expect(surb.surb.length).toBe(g.surbBytes);
      expect(surb.decryptionKeys.length).toBe((nu + 1) * g.lionessKeyBytes);
      const content = prng(nu)(g.contentBytes - 3);
      const { firstHop, packet } = ts.createSurbReply(g, surb.surb, content);
      expect(firstHop).toEqual(sub[0]!.id);
      expect(packet.length).toBe(g.packetBytes);
      const last = walk(g, sub, packet).at(-1)!;
      if (last.kind !== 'surbReply') throw new Error(`expected surbReply, got ${last.kind}`);
      expect(last.id).toEqual(surbId);
      expect(last.payload.length).toBe(g.payloadBytes);
      const opened = ts.openSurbReply(g, surb.decryptionKeys, last.payload);
      expect(opened).not.toBeNull();
      expect(opened!.length).toBe(g.contentBytes);
      expect(opened!.subarray(0, content.length)).toEqual(content);
      expect(opened!.subarray(content.length).every((b) => b === 0)).toBe(true);
    }
  });

  it('a tampered reply payload fails openSurbReply with null', () => {
    const { sub, surb } = reply(3);
    const { packet } = ts.createSurbReply(g, surb.surb, new Uint8Array([1, 2, 3]));
    packet[g.offsets.payload + 100]! ^= 1;
    const last = walk(g, sub, packet).at(-1)!;
    if (last.kind !== 'surbReply') throw new Error(`expected surbReply, got ${last.kind}`);
    expect(ts.openSurbReply(g, surb.decryptionKeys, last.payload)).toBeNull();
    expect(ts.openSurbReply(g, surb.decryptionKeys, last.payload.subarray(1))).toBeNull();
  });

  it('the same seed gives the same SURB', () => {
    const seed = prng(3)(32);
    const a = reply(4, seed).surb,
      b = reply(4, seed).surb;
    expect(eq(a.surb, b.surb)).toBe(true);
    expect(eq(a.decryptionKeys, b.decryptionKeys)).toBe(true);
  });
});

describe('determinism and the lifted scalar chain', () => {
  const ns = nodes(g, 6, prng(5));
  const hops = path(g, ns, FORWARD, new Uint8Array(g.addressBytes).fill(1));
  const content = prng(6)(300);

  it('the same seed gives identical bytes; another seed gives other bytes', () => {
    const seed = prng(7)(32);
    const a = ts.createPacket(g, { epoch: 1, hops, content, seed });
    const b = ts.createPacket(g, { epoch: 1, hops, content, seed });
    expect(eq(a, b)).toBe(true);
    const other = seed.slice();
    other[0]! ^= 1;
    expect(eq(a, ts.createPacket(g, { epoch: 1, hops, content, seed: other }))).toBe(false);
    expect(eq(ts.createPacket(g, { epoch: 1, hops, content }), ts.createPacket(g, { epoch: 1, hops, content }))).toBe(
      false,
    );
  });

  it('lift(e) survives clamping and matches naive repeated X25519 blinding', () => {
    const rnd = prng(11);
    for (let trial = 0; trial < 8; trial++) {
      const x = rnd(32);
      let naive = ts.x25519Base(x);
      let e = initialExponent(x);
      for (let hop = 0; hop < 6; hop++) {
        const k = lift(e)!;
        expect(k).not.toBeNull();
        expect(clamp(k)).toBe(fromLE(k));
        expect(fromLE(k) % ELL === e || fromLE(k) % ELL === (ELL - e) % ELL).toBe(true);
        expect(ts.x25519Base(k)).toEqual(naive);
        const b = rnd(32);
        naive = ts.x25519(b, naive);
        e = nextExponent(e, b);
      }
    }
    expect(lift(0n)).toBeNull();
  });

  it('α_i of a created packet equals X25519 re-blinding applied hop by hop', () => {
    const rnd = prng(12);
    for (let trial = 0; trial < 3; trial++) {
      const seed = rnd(32);
      const packet = ts.createPacket(g, { epoch: 1, hops, content, seed });
      let expected = ts.x25519Base(seedKeys(g, seed).x); // α_0 = X25519(x, 9)
      for (const n of ns) {
        expect(alphaOf(g, packet)).toEqual(expected);
        const s = ts.x25519(n.sk, expected);
        const { b } = payloadKeys(g, hopPrk(expected, s));
        expected = ts.x25519(b, expected); // what the hop does: α' = X25519(b, α)
        ts.unwrap(g, n.sk, packet);
      }
    }
  });

  it('the sender-side multiplications give the same bytes as the ladder, also once a key has its Edwards table', () => {
    const rnd = prng(13);
    const p = 2n ** 255n - 19n;
    const u = (v: bigint): Uint8Array =>
      Uint8Array.from({ length: 32 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
    const keys = [
      ...Array.from({ length: 4 }, () => ts.x25519Base(rnd(32))), // prime-order points
      ...Array.from({ length: 4 }, () => rnd(32)), // random u: half on the twist, top bit set or not
      u(p + 5n), // a non-canonical encoding
      u(0n),
      u(1n),
      u(p - 1n), // small order: all-zero result
    ];
    for (let use = 0; use < 8; use++) {
      for (const pk of keys) {
        const k = lift(fromLE(rnd(32)) % ELL)!;
        expect(mulPublic(k, pk)).toEqual(x25519Unchecked(k, pk));
        expect(mulBase(k)).toEqual(ts.x25519Base(k));
      }
    }
  });
});

describe('tamper detection', () => {
  const ns = nodes(g, 6, prng(21));
  const hops = path(g, ns, FORWARD, new Uint8Array(g.addressBytes).fill(2));
  const fresh = (): Uint8Array =>
    ts.createPacket(g, { epoch: 4, hops, content: new Uint8Array([9, 9, 9]), seed: prng(22)(32) });

  it('a flipped header bit gives mac at the next hop', () => {
    const positions = [
      2,
      3,
      g.offsets.alpha + 5,
      g.offsets.beta,
      g.offsets.beta + 100,
      g.offsets.gamma - 1,
      g.offsets.gamma + 3,
    ];
    for (const at of positions) {
      const packet = fresh();
      expect(ts.unwrap(g, ns[0]!.sk, packet).kind).toBe('relay');
      packet[at]! ^= 0x10;
      expect(ts.unwrap(g, ns[1]!.sk, packet)).toEqual({ kind: 'invalid', reason: 'mac' });
    }
  });

  it('a flipped payload bit at hop 1 gives integrity at the final hop', () => {
    const packet = fresh();
    expect(ts.unwrap(g, ns[0]!.sk, packet).kind).toBe('relay');
    packet[g.offsets.payload + 500]! ^= 0x01;
    const results = walk(g, ns.slice(1), packet);
    expect(results.slice(0, 4).map((r) => r.kind)).toEqual(['relay', 'relay', 'relay', 'deliver']);
    expect(results[4]).toEqual({ kind: 'invalid', reason: 'integrity' });
  });

  it('a flipped payload bit gives integrity at a loop hop too', () => {
    const loopHops = path(g, ns.slice(0, 2), commandsFor(2, Command.LOOP), new Uint8Array(g.addressBytes));
    const packet = ts.createPacket(g, { epoch: 4, hops: loopHops, content: new Uint8Array(1) });
    packet[g.packetBytes - 1]! ^= 0x80;
    expect(ts.unwrap(g, ns[0]!.sk, packet).kind).toBe('relay');
    expect(ts.unwrap(g, ns[1]!.sk, packet)).toEqual({ kind: 'invalid', reason: 'integrity' });
  });

  it('the wrong private key gives mac and leaves the packet untouched', () => {
    const packet = fresh();
    const copy = packet.slice();
    expect(ts.unwrap(g, ns[1]!.sk, packet)).toEqual({ kind: 'invalid', reason: 'mac' });
    expect(packet).toEqual(copy);
  });

  it('an unknown command gives command', () => {
    const geo = g;
    const bad = [{ ...hops[0]!, command: 0x07 as CommandCode }];
    const packet = new Uint8Array(geo.packetBytes);
    const keys = seedKeys(geo, prng(23)(32));
    sealHeader(geo, 0, bad, keys, packet.subarray(0, geo.headerBytes));
    expect(ts.unwrap(geo, ns[0]!.sk, packet)).toEqual({ kind: 'invalid', reason: 'command' });
  });

  it('garbage, truncated, empty, oversized and wrong-version buffers are invalid and never throw', () => {
    const rnd = prng(24);
    const sk = ns[0]!.sk;
    const good = fresh();
    expect(ts.unwrap(g, sk, new Uint8Array(0))).toEqual({ kind: 'invalid', reason: 'length' });
    expect(ts.unwrap(g, sk, good.slice(0, g.packetBytes - 1))).toEqual({ kind: 'invalid', reason: 'length' });
    const big = new Uint8Array(g.packetBytes + 1);
    big.set(good);
    expect(ts.unwrap(g, sk, big)).toEqual({ kind: 'invalid', reason: 'length' });
    for (const [at, value] of [
      [0, 2],
      [0, 0],
      [1, 1],
    ] as const) {
      const p = good.slice();
      p[at] = value;
      expect(ts.unwrap(g, sk, p)).toEqual({ kind: 'invalid', reason: 'version' });
    }
    for (let i = 0; i < 30; i++) {
      const p = rnd(g.packetBytes);
      p[0] = 1;
      p[1] = 0;
      const r = ts.unwrap(g, sk, p);
      expect(r.kind).toBe('invalid');
      expect(['mac', 'point']).toContain(r.kind === 'invalid' ? r.reason : '');
    }
    for (let i = 0; i < 10; i++) expect(ts.unwrap(g, sk, rnd(rnd(1)[0]! * 11)).kind).toBe('invalid');
  });

  it('an α of small order gives point', () => {
    const p = 2n ** 255n - 19n;
    const smallOrder = [
      0n,
      1n,
      p - 1n,
      p,
      p + 1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
    ];
    for (const u of smallOrder) {
      const packet = fresh();
      const bytes = new Uint8Array(32);
      for (let i = 0, v = u; i < 32; i++, v >>= 8n) bytes[i] = Number(v & 0xffn);
      packet.set(bytes, g.offsets.alpha);
      expect(ts.unwrap(g, ns[0]!.sk, packet)).toEqual({ kind: 'invalid', reason: 'point' });
    }
  });

  it('two unwraps of the same packet give the same replay tag; different packets give different tags', () => {
    const a = fresh();
    const a2 = a.slice();
    const b = ts.createPacket(g, { epoch: 4, hops, content: new Uint8Array([9, 9, 9]) });
    const ra = ts.unwrap(g, ns[0]!.sk, a),
      ra2 = ts.unwrap(g, ns[0]!.sk, a2),
      rb = ts.unwrap(g, ns[0]!.sk, b);
    if (ra.kind !== 'relay' || ra2.kind !== 'relay' || rb.kind !== 'relay') throw new Error('expected relays');
    expect(ra.replayTag).toEqual(ra2.replayTag);
    expect(eq(ra.replayTag, rb.replayTag)).toBe(false);
    expect(a).toEqual(a2);
  });
});

describe('batch unwrap', () => {
  const ns = nodes(g, 6, prng(31));
  it('gives the same results and rewrites the same bytes as one-by-one unwraps', () => {
    const packets = [
      ts.createPacket(g, {
        epoch: 1,
        hops: path(g, ns, FORWARD, new Uint8Array(g.addressBytes).fill(3)),
        content: new Uint8Array(4),
      }),
      ts.createPacket(g, {
        epoch: 1,
        hops: path(g, ns.slice(0, 1), [Command.FINAL], new Uint8Array(g.addressBytes).fill(4)),
        content: new Uint8Array([1]),
      }),
      ts.createPacket(g, {
        epoch: 1,
        hops: path(g, ns.slice(0, 1), [Command.DROP], new Uint8Array(g.addressBytes)),
        content: new Uint8Array(0),
      }),
      prng(32)(g.packetBytes),
      ts.createPacket(g, {
        epoch: 1,
        hops: path(g, ns.slice(1, 3), commandsFor(2, Command.LOOP), new Uint8Array(g.addressBytes)),
        content: new Uint8Array(0),
      }),
    ];
    const batch = new Uint8Array(packets.length * g.packetBytes);
    packets.forEach((p, i) => batch.set(p, i * g.packetBytes));
    const records = new Uint8Array(packets.length * g.recordBytes + 3);
    expect(ts.unwrapBatch(g, ns[0]!.sk, batch, records)).toBe(packets.length);
    packets.forEach((p, i) => {
      const single = ts.unwrap(g, ns[0]!.sk, p);
      const view = batch.subarray(i * g.packetBytes, (i + 1) * g.packetBytes);
      expect(view).toEqual(p);
      expect(decodeRecord(g, records, i, view)).toEqual(single);
    });
    expect(ts.unwrapBatch(g, ns[0]!.sk, new Uint8Array(0), new Uint8Array(0))).toBe(0);
  });
});

describe('argument errors name the argument', () => {
  const ns = nodes(g, 6, prng(41));
  const hops = path(g, ns, FORWARD, new Uint8Array(g.addressBytes));
  const content = new Uint8Array(1);
  const create = (over: Record<string, unknown>) => () => ts.createPacket(g, { epoch: 1, hops, content, ...over });
  const hopWith = (over: Record<string, unknown>) => [{ ...hops[0]!, ...over }];

  it('createPacket', () => {
    expect(create({ content: new Uint8Array(g.contentBytes + 1) })).toThrow(
      /content must be at most 1024 bytes, got 1025/,
    );
    expect(create({ content: 'hello' })).toThrow(TypeError);
    expect(create({ hops: [...hops, hops[0]!] })).toThrow(/hops must have 1\.\.6 entries, got 7/);
    expect(create({ hops: [] })).toThrow(/hops must have 1\.\.6 entries, got 0/);
    expect(create({ epoch: 65536 })).toThrow(RangeError);
    expect(create({ epoch: 65536 })).toThrow(/epoch must be an integer in \[0, 65535\]/);
    expect(create({ epoch: 1.5 })).toThrow(TypeError);
    expect(create({ epoch: -1 })).toThrow(/epoch/);
    expect(create({ seed: new Uint8Array(31) })).toThrow(/seed must be 32 bytes, got 31/);
    expect(create({ hops: hopWith({ publicKey: new Uint8Array(31) }) })).toThrow(
      /hops\[0\]\.publicKey must be 32 bytes, got 31/,
    );
    expect(create({ hops: hopWith({ address: new Uint8Array(15) }) })).toThrow(
      /hops\[0\]\.address must be 16 bytes, got 15/,
    );
    expect(create({ hops: hopWith({ delayUs: -1 }) })).toThrow(
      /hops\[0\]\.delayUs must be an integer in \[0, 4294967295\]/,
    );
    expect(create({ hops: hopWith({ delayUs: 2 ** 32 }) })).toThrow(RangeError);
    expect(create({ hops: hopWith({ delayUs: 0.5 }) })).toThrow(TypeError);
    expect(create({ hops: hopWith({ command: 0 }) })).toThrow(/hops\[0\]\.command/);
    expect(create({ hops: hopWith({ publicKey: new Uint8Array(32) }) })).toThrow(/hops\[0\]\.publicKey/);
  });

  it('unwrap and unwrapBatch', () => {
    const packet = new Uint8Array(g.packetBytes);
    expect(() => ts.unwrap(g, new Uint8Array(31), packet)).toThrow(/privateKey must be 32 bytes, got 31/);
    expect(() => ts.unwrap(g, ns[0]!.sk, 'x' as never)).toThrow(/packet must be a Uint8Array/);
    expect(() =>
      ts.unwrapBatch(g, ns[0]!.sk, new Uint8Array(g.packetBytes + 1), new Uint8Array(g.recordBytes * 2)),
    ).toThrow(/packets must be a multiple of 1314 bytes/);
    expect(() =>
      ts.unwrapBatch(g, ns[0]!.sk, new Uint8Array(2 * g.packetBytes), new Uint8Array(g.recordBytes)),
    ).toThrow(/records must be at least 112 bytes/);
  });

  it('SURBs', () => {
    const surbHops = path(g, ns.slice(0, 2), commandsFor(2, Command.SURB_REPLY), new Uint8Array(g.addressBytes));
    expect(() => ts.createSurb(g, { epoch: 1, hops: surbHops, firstHop: new Uint8Array(3) })).toThrow(
      /firstHop must be 16 bytes, got 3/,
    );
    expect(() => ts.createSurb(g, { epoch: 1, hops, firstHop: ns[0]!.id })).toThrow(
      /hops\[5\]\.command must be SURB_REPLY/,
    );
    expect(() => ts.createSurbReply(g, new Uint8Array(g.surbBytes - 1), content)).toThrow(
      /surb must be 322 bytes, got 321/,
    );
    const { surb, decryptionKeys } = ts.createSurb(g, { epoch: 1, hops: surbHops, firstHop: ns[0]!.id });
    expect(() => ts.createSurbReply(g, surb, new Uint8Array(g.contentBytes + 1))).toThrow(
      /content must be at most 1024 bytes/,
    );
    expect(() => ts.openSurbReply(g, decryptionKeys.subarray(1), new Uint8Array(g.payloadBytes))).toThrow(
      /decryptionKeys/,
    );
  });

  it('primitives', () => {
    expect(() => ts.x25519(new Uint8Array(31), new Uint8Array(32))).toThrow(/scalar must be 32 bytes, got 31/);
    expect(() => ts.x25519(new Uint8Array(32), new Uint8Array(33))).toThrow(/point must be 32 bytes, got 33/);
    expect(() => ts.x25519Base(new Uint8Array(0))).toThrow(/scalar must be 32 bytes, got 0/);
    expect(() => ts.aes128Ctr(new Uint8Array(15), new Uint8Array(16), new Uint8Array(1))).toThrow(
      /key must be 16 bytes, got 15/,
    );
    expect(() => ts.aes128Ctr(new Uint8Array(16), new Uint8Array(12), new Uint8Array(1))).toThrow(
      /iv must be 16 bytes, got 12/,
    );
    expect(() => ts.hkdfSha256(new Uint8Array(1), new Uint8Array(1), new Uint8Array(1), 255 * 32 + 1)).toThrow(
      /length/,
    );
    expect(() => ts.lionessEncrypt(new Uint8Array(127), new Uint8Array(100))).toThrow(/key must be 128 bytes, got 127/);
    expect(() => ts.lionessDecrypt(new Uint8Array(128), new Uint8Array(32))).toThrow(
      /block must be longer than 32 bytes/,
    );
  });

  it('x25519 of a small-order point returns all zeros instead of throwing', () => {
    expect(ts.x25519(ns[0]!.sk, new Uint8Array(32))).toEqual(new Uint8Array(32));
  });

  it('LIONESS decrypt inverts encrypt', () => {
    const key = prng(51)(128),
      block = prng(52)(g.payloadBytes);
    const c = ts.lionessEncrypt(key, block);
    expect(eq(c, block)).toBe(false);
    expect(ts.lionessDecrypt(key, c)).toEqual(block);
  });
});
