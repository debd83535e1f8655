/**
 * Native ↔ TypeScript parity: given the same randomness both build identical packets, and a packet built by
 * either unwraps hop by hop in the other with identical bytes and results at every hop — for forward
 * packets, loops, drops and SURB replies, over random keys, paths, delays and contents.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GEOMETRY as g, makeGeometry } from '../src/geometry.js';
import { Command, type CommandCode, type HopSpec, type SphinxBackend } from '../src/sphinx/types.js';
import { native, prng, toHex, ts } from './helpers/backends.js';

interface Path {
  hops: (HopSpec & { privateKey: Uint8Array })[];
  content: Uint8Array;
  seed: Uint8Array;
}

function randomPath(rand: (n: number) => Uint8Array, commands: CommandCode[], geometry = g): Path {
  const hops = commands.map((command) => {
    const privateKey = rand(32);
    const delay = rand(4);
    return {
      privateKey,
      publicKey: native.x25519Base(privateKey),
      command,
      address: command === Command.DROP ? new Uint8Array(geometry.addressBytes) : rand(geometry.addressBytes),
      delayUs: command === Command.RELAY || command === Command.DELIVER ? new DataView(delay.buffer).getUint32(0) : 0,
    };
  });
  const length = (rand(2)[0]! * 4) % (geometry.contentBytes + 1);
  return { hops, content: rand(length), seed: rand(32) };
}

const strip = (r: object) => JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v));

/** Unwraps `packet` through every hop, alternating which backend unwraps; checks the other agrees. */
function crossUnwrap(path: Path, packet: Uint8Array, geometry = g): string[] {
  const kinds: string[] = [];
  const a = packet.slice();
  const b = packet.slice();
  path.hops.forEach((hop, i) => {
    const [first, second]: [SphinxBackend, SphinxBackend] = i % 2 === 0 ? [native, ts] : [ts, native];
    const ra = first.unwrap(geometry, hop.privateKey, a);
    const rb = second.unwrap(geometry, hop.privateKey, b);
    expect(strip(rb)).toBe(strip(ra));
    expect(toHex(b)).toBe(toHex(a));
    expect(a.length).toBe(geometry.packetBytes);
    kinds.push(ra.kind);
  });
  return kinds;
}

describe('native and TypeScript Sphinx', () => {
  const { RELAY, DELIVER, DROP, FINAL, LOOP, SURB_REPLY } = Command;

  it('build identical forward packets from the same seed, and unwrap each other hop by hop', () => {
    const rand = prng(1);
    for (let trial = 0; trial < 8; trial++) {
      const path = randomPath(rand, [RELAY, RELAY, RELAY, RELAY, DELIVER, FINAL]);
      const spec = { epoch: trial * 1000, hops: path.hops, content: path.content, seed: path.seed };
      const fromNative = native.createPacket(g, spec);
      expect(toHex(ts.createPacket(g, spec))).toBe(toHex(fromNative));
      expect(crossUnwrap(path, fromNative)).toEqual(['relay', 'relay', 'relay', 'relay', 'deliver', 'final']);
    }
  });

  it('agree on every path length from 1 to maxHops, and on loops and drops', () => {
    const rand = prng(2);
    for (let n = 1; n <= g.maxHops; n++) {
      const path = randomPath(rand, [...Array<CommandCode>(n - 1).fill(RELAY), n % 2 ? LOOP : FINAL]);
      const packet = ts.createPacket(g, { epoch: n, hops: path.hops, content: path.content, seed: path.seed });
      expect(toHex(native.createPacket(g, { epoch: n, hops: path.hops, content: path.content, seed: path.seed }))).toBe(
        toHex(packet),
      );
      const kinds = crossUnwrap(path, packet);
      expect(kinds.at(-1)).toBe(n % 2 ? 'loop' : 'final');
    }
    const drop = randomPath(rand, [RELAY, RELAY, RELAY, RELAY, DROP]);
    const packet = native.createPacket(g, { epoch: 9, hops: drop.hops, content: drop.content, seed: drop.seed });
    expect(crossUnwrap(drop, packet).at(-1)).toBe('drop');
  });

  it('build identical SURBs and replies that either side opens to the same content', () => {
    const rand = prng(3);
    for (let trial = 0; trial < 4; trial++) {
      const path = randomPath(rand, [RELAY, RELAY, RELAY, RELAY, DELIVER, SURB_REPLY]);
      const spec = { epoch: 5, hops: path.hops, firstHop: rand(g.addressBytes), seed: path.seed };
      const sn = native.createSurb(g, spec);
      const st = ts.createSurb(g, spec);
      expect(toHex(st.surb)).toBe(toHex(sn.surb));
      expect(toHex(st.decryptionKeys)).toBe(toHex(sn.decryptionKeys));
      const rn = native.createSurbReply(g, sn.surb, path.content);
      expect(toHex(ts.createSurbReply(g, sn.surb, path.content).packet)).toBe(toHex(rn.packet));
      expect(toHex(rn.firstHop)).toBe(toHex(spec.firstHop));
      const packet = rn.packet.slice();
      expect(crossUnwrap(path, rn.packet).at(-1)).toBe('surbReply');
      for (const hop of path.hops) native.unwrap(g, hop.privateKey, packet);
      const payload = packet.subarray(g.offsets.payload);
      const expected = new Uint8Array(g.contentBytes);
      expected.set(path.content);
      expect(toHex(native.openSurbReply(g, sn.decryptionKeys, payload)!)).toBe(toHex(expected));
      expect(toHex(ts.openSurbReply(g, sn.decryptionKeys, payload)!)).toBe(toHex(expected));
    }
  });

  it('agree on a non-default geometry (8 hops, 32-byte addresses, 4 KiB content)', () => {
    const big = makeGeometry({ maxHops: 8, addressBytes: 32, contentBytes: 4096 });
    const path = randomPath(prng(4), [RELAY, RELAY, RELAY, RELAY, RELAY, RELAY, DELIVER, FINAL], big);
    const spec = { epoch: 1, hops: path.hops, content: path.content, seed: path.seed };
    const packet = native.createPacket(big, spec);
    expect(packet.length).toBe(big.packetBytes);
    expect(toHex(ts.createPacket(big, spec))).toBe(toHex(packet));
    expect(crossUnwrap(path, packet, big).at(-1)).toBe('final');
  });

  it('give identical batch records to identical single unwraps, including invalid packets', () => {
    const rand = prng(5);
    const n = 12;
    const hopKey = rand(32);
    const packets = new Uint8Array(n * g.packetBytes);
    for (let i = 0; i < n; i++) {
      const path = randomPath(rand, [RELAY, RELAY, FINAL]);
      path.hops[0] = { ...path.hops[0]!, privateKey: hopKey, publicKey: native.x25519Base(hopKey) };
      packets.set(
        native.createPacket(g, { epoch: 3, hops: path.hops, content: path.content, seed: path.seed }),
        i * g.packetBytes,
      );
    }
    packets[3 * g.packetBytes + 100]! ^= 0x40; // a MAC failure
    packets.fill(0xff, 5 * g.packetBytes, 6 * g.packetBytes); // garbage
    const a = packets.slice();
    const b = packets.slice();
    const ra = new Uint8Array(n * g.recordBytes);
    const rb = new Uint8Array(n * g.recordBytes);
    expect(native.unwrapBatch(g, hopKey, a, ra)).toBe(n);
    expect(ts.unwrapBatch(g, hopKey, b, rb)).toBe(n);
    expect(toHex(rb)).toBe(toHex(ra));
    expect(toHex(b)).toBe(toHex(a));
    expect(ra[3 * g.recordBytes]).toBe(0);
    expect(ra[5 * g.recordBytes]).toBe(0);
    expect(ra[0]).toBe(1);
  });
});
