/**
 * Security properties of the packet format, checked on both implementations: one size everywhere, header
 * integrity (any flipped header bit is caught at the next hop), the wide-block payload (a tagged payload turns
 * into noise and is rejected at the final hop), wrong keys, malformed buffers, and replay tags.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GEOMETRY as g } from '../src/geometry.js';
import { Command, type SphinxBackend } from '../src/sphinx/types.js';
import { BACKENDS, prng, toHex } from './helpers/backends.js';

function fixture(b: SphinxBackend, seed: number) {
  const rand = prng(seed);
  const keys = Array.from({ length: 6 }, () => rand(32));
  const commands = [Command.RELAY, Command.RELAY, Command.RELAY, Command.RELAY, Command.DELIVER, Command.FINAL];
  const hops = keys.map((k, i) => ({
    publicKey: b.x25519Base(k),
    command: commands[i]!,
    address: rand(g.addressBytes),
    delayUs: i * 1000,
  }));
  const content = rand(g.contentBytes);
  const packet = b.createPacket(g, { epoch: 1, hops, content, seed: rand(32) });
  return { keys, hops, content, packet };
}

describe.each(BACKENDS.map((b) => [b.name, b] as const))('%s packets', (_name, b) => {
  it('keep exactly packetBytes at every hop and deliver the content unchanged', () => {
    const { keys, content, packet } = fixture(b, 10);
    expect(g.packetBytes).toBeLessThanOrEqual(1472);
    expect(g.contentBytes).toBeGreaterThanOrEqual(1024);
    const kinds = keys.map((k) => {
      const r = b.unwrap(g, k, packet);
      expect(packet.length).toBe(g.packetBytes);
      if (r.kind === 'final') expect(toHex(r.content)).toBe(toHex(content));
      return r.kind;
    });
    expect(kinds).toEqual(['relay', 'relay', 'relay', 'relay', 'deliver', 'final']);
  });

  it('report the sender-chosen delay and next address at each hop', () => {
    const { keys, hops, packet } = fixture(b, 11);
    for (let i = 0; i < 5; i++) {
      const r = b.unwrap(g, keys[i]!, packet);
      if (r.kind !== 'relay' && r.kind !== 'deliver') throw new Error(`hop ${i}: ${r.kind}`);
      expect(r.delayUs).toBe(i * 1000);
      expect(toHex(r.kind === 'relay' ? r.next : r.client)).toBe(toHex(hops[i]!.address));
    }
  });

  it('reject a flipped bit anywhere in the header at the next hop', () => {
    const { keys, packet } = fixture(b, 12);
    // Every bit on the native side; every 5th bit on the slower TypeScript side.
    const step = b.name === 'native' ? 1 : 5;
    for (let bit = 0; bit < g.headerBytes * 8; bit += step) {
      const p = packet.slice();
      p[bit >> 3]! ^= 1 << (bit & 7);
      const r = b.unwrap(g, keys[0]!, p);
      expect(r.kind, `bit ${bit}`).toBe('invalid');
      if (r.kind === 'invalid') expect(['version', 'mac', 'point']).toContain(r.reason);
    }
  });

  it('reject a header tampered at hop 3 at hop 3 itself, not later', () => {
    const { keys, packet } = fixture(b, 13);
    b.unwrap(g, keys[0]!, packet);
    b.unwrap(g, keys[1]!, packet);
    packet[g.offsets.beta + 3]! ^= 0x80;
    expect(b.unwrap(g, keys[2]!, packet)).toEqual({ kind: 'invalid', reason: 'mac' });
  });

  it('turn a payload flipped at hop 1 into noise the final hop rejects (wide-block property)', () => {
    const { keys, content, packet } = fixture(b, 14);
    packet[g.offsets.payload + 200]! ^= 0x01;
    for (let i = 0; i < 5; i++) expect(b.unwrap(g, keys[i]!, packet).kind).not.toBe('invalid');
    expect(b.unwrap(g, keys[5]!, packet)).toEqual({ kind: 'invalid', reason: 'integrity' });
    // What the final hop decrypted is unrelated to the plaintext, not a one-bit change of it.
    const decrypted = packet.subarray(g.offsets.payload + g.integrityBytes);
    let equal = 0;
    for (let i = 0; i < content.length; i++) if (decrypted[i] === content[i]) equal++;
    expect(equal).toBeLessThan(30); // ≈ 4 expected by chance out of 1024
  });

  it('reject a packet unwrapped with the wrong key', () => {
    const { packet } = fixture(b, 15);
    expect(b.unwrap(g, prng(99)(32), packet)).toEqual({ kind: 'invalid', reason: 'mac' });
  });

  it('return a typed invalid result for empty, truncated, oversized and garbage buffers, never throwing', () => {
    const { keys, packet } = fixture(b, 16);
    const cases = [
      new Uint8Array(0),
      packet.slice(0, g.packetBytes - 1),
      new Uint8Array(g.packetBytes + 1),
      new Uint8Array(65536),
    ];
    for (const p of cases) expect(b.unwrap(g, keys[0]!, p)).toEqual({ kind: 'invalid', reason: 'length' });
    const zeros = new Uint8Array(g.packetBytes);
    zeros[0] = 1;
    expect(b.unwrap(g, keys[0]!, zeros)).toEqual({ kind: 'invalid', reason: 'point' });
    const rand = prng(17);
    for (let i = 0; i < 20; i++) {
      const garbage = rand(g.packetBytes);
      garbage[0] = 1;
      garbage[1] = 0;
      expect(b.unwrap(g, keys[0]!, garbage).kind).toBe('invalid');
    }
  });

  it('give the same replay tag to two unwraps of one packet and different tags to different packets', () => {
    const f = fixture(b, 18);
    const again = f.packet.slice();
    const other = fixture(b, 19);
    const k = f.keys[0]!;
    const t1 = b.unwrap(g, k, f.packet);
    const t2 = b.unwrap(g, k, again);
    const otherPacket = b.createPacket(g, { epoch: 1, hops: f.hops, content: other.content, seed: prng(20)(32) });
    const t3 = b.unwrap(g, k, otherPacket);
    if (t1.kind !== 'relay' || t2.kind !== 'relay' || t3.kind !== 'relay') throw new Error('expected relays');
    expect(toHex(t1.replayTag)).toBe(toHex(t2.replayTag));
    expect(toHex(t3.replayTag)).not.toBe(toHex(t1.replayTag));
    expect(t1.replayTag.length).toBe(g.replayTagBytes);
  });

  it('reject bad create arguments with errors naming the argument', () => {
    const { hops } = fixture(b, 21);
    const ok = { epoch: 1, hops, content: new Uint8Array(1) };
    expect(() => b.createPacket(g, { ...ok, content: new Uint8Array(g.contentBytes + 1) })).toThrow(/content/);
    expect(() => b.createPacket(g, { ...ok, hops: [...hops, hops[0]!] })).toThrow(/hops/);
    expect(() => b.createPacket(g, { ...ok, hops: [] })).toThrow(/hops/);
    expect(() => b.createPacket(g, { ...ok, epoch: 70000 })).toThrow(/epoch/);
    expect(() => b.createPacket(g, { ...ok, seed: new Uint8Array(31) })).toThrow(/seed.*32/);
    expect(() => b.createPacket(g, { ...ok, hops: [{ ...hops[0]!, publicKey: new Uint8Array(31) }] })).toThrow(
      /publicKey.*32/,
    );
    expect(() => b.createPacket(g, { ...ok, hops: [{ ...hops[0]!, address: new Uint8Array(3) }] })).toThrow(
      /address.*16/,
    );
    expect(() => b.createPacket(g, { ...ok, hops: [{ ...hops[0]!, delayUs: -1 }] })).toThrow(/delayUs/);
    expect(() => b.unwrap(g, new Uint8Array(31), new Uint8Array(g.packetBytes))).toThrow(/privateKey.*32/);
  });
});
