/**
 * The link layer's parts (src/node/link): known-answer vectors for the AEAD (native, TypeScript twin and
 * Node's crypto module agree byte for byte) and for the key schedule (RFC 7748 §6.1 keys), the replay
 * window, shared sequence numbers, and the batch forms' verdicts.
 */
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeGeometry } from '../src/geometry.js';
import {
  deriveLinkKey,
  LINK_OK,
  LINK_REPLAY,
  LINK_UNAUTHENTICATED,
  LINK_WRONG_LAYER,
  LinkReplayWindows,
  LinkSequences,
  nativeLinkCipher,
  tsLinkCipher,
  WINDOW_BITS,
  type LinkCipher,
} from '../src/node/link/index.js';
import { linkLayerChain } from '../src/node/link/layer-chain.js';
import { native, ts } from './helpers/backends.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Key 00..0f, header (epoch 42, sequence 0x0123456789abcdef), payload 00..3f: header || ciphertext || tag. */
const GCM_KAT = {
  key: '000102030405060708090a0b0c0d0e0f',
  payload: Array.from({ length: 64 }, (_, i) => i),
  datagram:
    '0000002a0123456789abcdef53aee720c5baa7fc2f3f1bcf9f3e5c746266b87e16a1f79d1a88d926fbcbc8a8339ca76312939a4e22efbbc212553b96609e0b18a5390f21a129f035312f41a70f7c553c3cc2fb047ec46e59d467e448',
};
/** RFC 7748 §6.1: Alice's private key, Bob's public key, their shared secret; the link key A→B for epoch 7. */
const KEY_KAT = {
  alicePriv: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  bobPub: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
  epoch: 7,
  from: 'aa'.repeat(16),
  to: 'bb'.repeat(16),
  key: '79b56a7b5b3994fca42537ebeec94c34',
};

const ciphers: [string, LinkCipher][] = [
  ['native', nativeLinkCipher()],
  ['ts', tsLinkCipher],
];

describe('link AEAD (AES-128-GCM, header as nonce and AAD)', () => {
  for (const [name, cipher] of ciphers) {
    it(`${name}: seals the known-answer vector and opens it again`, () => {
      const d = new Uint8Array(12 + 64 + 16);
      d.set(hex('0000002a0123456789abcdef'));
      d.set(GCM_KAT.payload, 12);
      cipher.sealBatch(hex(GCM_KAT.key), d, 64, 1);
      expect(toHex(d)).toBe(GCM_KAT.datagram);
      const ok = new Uint8Array(1);
      cipher.openBatch(hex(GCM_KAT.key), d, 64, 1, ok);
      expect(ok[0]).toBe(1);
      expect(Array.from(d.subarray(12, 76))).toEqual(GCM_KAT.payload);
    });

    it(`${name}: refuses a flipped bit anywhere (header, body, tag) and zeroes the body; skips what the caller marked`, () => {
      for (const at of [0, 11, 12, 50, 75, 76, 91]) {
        const d = hex(GCM_KAT.datagram);
        d[at]! ^= 0x40;
        const ok = new Uint8Array(1);
        cipher.openBatch(hex(GCM_KAT.key), d, 64, 1, ok);
        expect(ok[0], `bit at ${at}`).toBe(0);
        expect(d.subarray(12, 76).every((b) => b === 0)).toBe(true);
      }
      const d = hex(GCM_KAT.datagram);
      const ok = Uint8Array.of(0xff);
      cipher.openBatch(hex(GCM_KAT.key), d, 64, 1, ok);
      expect(ok[0]).toBe(0xff);
      expect(toHex(d)).toBe(GCM_KAT.datagram);
    });
  }

  it('native, twin and node:crypto agree on random batches', () => {
    const g = makeGeometry();
    const n = 5;
    const D = g.datagramBytes;
    const keys = Uint8Array.from(randomBytes(16 * n));
    const plain = new Uint8Array(n * D);
    for (let i = 0; i < n; i++) {
      plain.set(randomBytes(12), i * D);
      plain.set(randomBytes(g.packetBytes), i * D + 12);
    }
    const a = plain.slice();
    const b = plain.slice();
    nativeLinkCipher().sealBatch(keys, a, g.packetBytes, n);
    tsLinkCipher.sealBatch(keys, b, g.packetBytes, n);
    expect(toHex(a)).toBe(toHex(b));
    for (let i = 0; i < n; i++) {
      const header = plain.subarray(i * D, i * D + 12);
      const c = createCipheriv('aes-128-gcm', keys.subarray(16 * i, 16 * i + 16), header);
      c.setAAD(header);
      const ref = Buffer.concat([
        header,
        c.update(plain.subarray(i * D + 12, i * D + 12 + g.packetBytes)),
        c.final(),
        c.getAuthTag(),
      ]);
      expect(toHex(a.subarray(i * D, (i + 1) * D))).toBe(ref.toString('hex'));
    }
    const okN = new Uint8Array(n);
    const okT = new Uint8Array(n);
    const b2 = a.slice();
    b2[2 * D + 40]! ^= 1;
    const a2 = b2.slice();
    nativeLinkCipher().openBatch(keys, a2, g.packetBytes, n, okN);
    tsLinkCipher.openBatch(keys, b2, g.packetBytes, n, okT);
    expect(Array.from(okN)).toEqual([1, 1, 0, 1, 1]);
    expect(Array.from(okT)).toEqual(Array.from(okN));
    expect(toHex(a2)).toBe(toHex(b2));
  });
});

describe('link keys (X25519 + HKDF-SHA256)', () => {
  it('derive the known-answer key with either backend, equal to node:crypto’s HKDF over the RFC 7748 shared secret', () => {
    for (const b of [native, ts]) {
      const k = deriveLinkKey(
        (s, p) => b.x25519(s, p),
        hex(KEY_KAT.alicePriv),
        hex(KEY_KAT.bobPub),
        KEY_KAT.epoch,
        hex(KEY_KAT.from),
        hex(KEY_KAT.to),
      );
      expect(toHex(k!)).toBe(KEY_KAT.key);
    }
    const info = Buffer.concat([
      Buffer.from('loopix link key'),
      Buffer.from([0, 0, 0, 7]),
      hex(KEY_KAT.from),
      hex(KEY_KAT.to),
    ]);
    expect(
      Buffer.from(hkdfSync('sha256', hex(KEY_KAT.shared), Buffer.from('loopix-link-v1'), info, 16)).toString('hex'),
    ).toBe(KEY_KAT.key);
  });

  it('differ per direction and per epoch; a small-order peer key gives no key', () => {
    const x = (s: Uint8Array, p: Uint8Array) => native.x25519(s, p);
    const a = deriveLinkKey(x, hex(KEY_KAT.alicePriv), hex(KEY_KAT.bobPub), 7, hex(KEY_KAT.from), hex(KEY_KAT.to))!;
    const back = deriveLinkKey(x, hex(KEY_KAT.alicePriv), hex(KEY_KAT.bobPub), 7, hex(KEY_KAT.to), hex(KEY_KAT.from))!;
    const next = deriveLinkKey(x, hex(KEY_KAT.alicePriv), hex(KEY_KAT.bobPub), 8, hex(KEY_KAT.from), hex(KEY_KAT.to))!;
    expect(new Set([toHex(a), toHex(back), toHex(next)]).size).toBe(3);
    expect(
      deriveLinkKey(x, hex(KEY_KAT.alicePriv), new Uint8Array(32), 7, hex(KEY_KAT.from), hex(KEY_KAT.to)),
    ).toBeNull();
  });
});

describe('replay window (RFC 6479, 2048 bits)', () => {
  it('accepts each number once, in any order within the window, and refuses numbers older than the window', () => {
    const w = new LinkReplayWindows(2);
    const base = 1n << 40n;
    expect(w.checkBig(0, base + 10n)).toBe(true);
    expect(w.checkBig(0, base + 10n)).toBe(false);
    expect(w.checkBig(0, base + 5n)).toBe(true); // reordered
    expect(w.checkBig(0, base + 5n)).toBe(false);
    expect(w.checkBig(0, base + 3000n)).toBe(true); // a jump clears the ring
    expect(w.checkBig(0, base + 10n)).toBe(false); // now too old
    expect(w.checkBig(0, base + 3000n - BigInt(WINDOW_BITS - 33))).toBe(true); // oldest still tracked
    expect(w.checkBig(0, base + 3000n - BigInt(WINDOW_BITS - 32))).toBe(false);
    expect(w.checkBig(1, base + 10n)).toBe(true); // peers are independent
    for (let s = base + 3001n; s < base + 3001n + 5000n; s += 7n) expect(w.checkBig(0, s)).toBe(true);
  });

  it('is shared through its SharedArrayBuffer: a number accepted by one reader is a replay for another', () => {
    const a = new LinkReplayWindows(1);
    const b = new LinkReplayWindows(1, a.buffer);
    expect(a.checkBig(0, 99n << 20n)).toBe(true);
    expect(b.checkBig(0, 99n << 20n)).toBe(false);
  });
});

describe('sequence numbers', () => {
  it('are unique across the users of one shared counter and start above the previous run’s', () => {
    const a = new LinkSequences(3, undefined, 1_000);
    const b = new LinkSequences(3, a.buffer);
    const seen = new Set<bigint>();
    for (let i = 0; i < 100; i++) for (const s of [a.next(1), b.next(1)]) seen.add(s);
    expect(seen.size).toBe(200);
    expect(a.next(1)).toBe((1000n << 20n) + 200n);
    expect(new LinkSequences(3, undefined, 1_001).next(1)).toBeGreaterThan(a.next(1));
  });
});

describe('LinkLayer batch forms', () => {
  const g = makeGeometry();
  const {
    nodes,
    keys: sk,
    layer,
  } = linkLayerChain({
    geometry: g,
    epoch: 4,
    basePort: 1,
    mixes: 2,
    x25519Base: (k) => native.x25519Base(k),
    x25519: (a, b) => native.x25519(a, b),
  });

  it('seal a batch for the next layer and open it with one verdict per datagram', () => {
    const P = layer(0);
    const M1 = layer(1);
    const n = 4;
    const packets = Uint8Array.from(randomBytes(n * g.packetBytes));
    const out = new Uint8Array(n * g.datagramBytes);
    const verdicts = new Uint8Array(n);
    P.sealBatch(
      packets,
      n,
      [P.slotOfNode(nodes[1]!), P.slotOfNode(nodes[1]!), P.slotOfNode(nodes[1]!), P.slotOfNode(nodes[1]!)],
      out,
      verdicts,
    );
    expect(Array.from(verdicts)).toEqual([0, 0, 0, 0]);
    // Datagram 1 tampered, datagram 3 a copy of datagram 0 (replay); sources: P, P, M2 (not adjacent), P.
    out[g.datagramBytes + 200]! ^= 4;
    out.copyWithin(3 * g.datagramBytes, 0, g.datagramBytes);
    const slots = [
      M1.slotOf('127.0.0.1', 1),
      M1.slotOf('127.0.0.1', 1),
      M1.slotOf('127.0.0.1', 3),
      M1.slotOf('127.0.0.1', 1),
    ];
    M1.openBatch(out, n, slots, verdicts);
    expect(Array.from(verdicts)).toEqual([LINK_OK, LINK_UNAUTHENTICATED, LINK_WRONG_LAYER, LINK_REPLAY]);
    expect(toHex(out.subarray(g.linkHeaderBytes, g.linkHeaderBytes + g.packetBytes))).toBe(
      toHex(packets.subarray(0, g.packetBytes)),
    );
    expect(M1.slotOf('10.0.0.1', 1)).toBe(-1);
  });

  it('refuse to seal for a node outside the next layer, and wipe keys once the own key is gone', () => {
    const M1 = layer(1);
    expect(M1.seal(new Uint8Array(g.packetBytes), nodes[0]!.udp)).toBe('link_no_key');
    expect(M1.seal(new Uint8Array(g.packetBytes), nodes[2]!.udp)).toBeInstanceOf(Uint8Array);
    let live = true;
    const M1b = layer(1, { ownKey: (e) => (live && e === 4 ? sk[1] : undefined) });
    expect(M1b.seal(new Uint8Array(g.packetBytes), nodes[2]!.udp)).toBeInstanceOf(Uint8Array);
    live = false;
    M1b.sweep();
    expect(M1b.seal(new Uint8Array(g.packetBytes), nodes[2]!.udp)).toBe('link_no_key');
  });
});

describe('replay window at real sequence magnitudes', () => {
  it('never accepts a number twice around 2^61 (start of a run), across word and half boundaries', () => {
    const w = new LinkReplayWindows(1);
    const start = BigInt(Date.now()) << 20n;
    const accepted = new Set<bigint>();
    // Mostly increasing with reordering, plus a crossing of the low half's 2^32 boundary.
    const base = (start | 0xffffff00n) - 300n;
    for (let i = 0; i < 3000; i++) {
      const s = base + BigInt(i) - BigInt((i * 7919) % 40);
      const fresh = !accepted.has(s);
      expect(w.checkBig(0, s), `seq ${s}`).toBe(fresh && true);
      accepted.add(s);
      expect(w.checkBig(0, s)).toBe(false);
    }
  });
});
