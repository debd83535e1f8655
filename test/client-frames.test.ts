/** Client content frames and envelopes (docs/packet-format.md §11–12): round trips, bounds, bad input. */
import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../src/client/envelope.js';
import {
  AckMode,
  ackCapacity,
  dataCapacity,
  decodeFrame,
  encodeAck,
  encodeData,
  splitData,
} from '../src/client/frames.js';
import { makeGeometry } from '../src/geometry.js';

const g = makeGeometry();
const id = () => crypto.getRandomValues(new Uint8Array(16));

describe('envelopes', () => {
  it('round-trips messages, reply SURBs and SURB requests in order, compressing only when it helps', () => {
    const records = [
      { kind: 'message' as const, messageId: id(), bytes: new TextEncoder().encode('hello '.repeat(50)) },
      {
        kind: 'replySurbs' as const,
        replyKey: id(),
        expiresAtMs: 1_700_000_000_000,
        surbs: [crypto.getRandomValues(new Uint8Array(g.surbBytes))],
      },
      { kind: 'surbRequest' as const, replyKey: id(), wanted: 4 },
    ];
    const env = encodeEnvelope(g, records);
    const back = decodeEnvelope(g, env, 1 << 20);
    expect(back).toMatchObject({ ok: true, compressed: true });
    expect(back.ok && back.records).toEqual(records);
    const random = encodeEnvelope(g, [
      { kind: 'message', messageId: id(), bytes: crypto.getRandomValues(new Uint8Array(2000)) },
    ]);
    expect(decodeEnvelope(g, random, 1 << 20)).toMatchObject({ ok: true, compressed: false });
  });

  it('refuses a body that inflates beyond the bound (a compression bomb) and unknown versions or kinds', () => {
    const bomb = deflateSync(new Uint8Array(1_000_000));
    const env = new Uint8Array(2 + bomb.length);
    env[0] = 1;
    env[1] = 1;
    env.set(bomb, 2);
    expect(decodeEnvelope(g, env, 100_000)).toEqual({ ok: false, reason: 'envelope_too_large' });
    expect(decodeEnvelope(g, Uint8Array.of(2, 0), 1000)).toEqual({ ok: false, reason: 'envelope_version' });
    expect(decodeEnvelope(g, Uint8Array.of(1, 0, 9, 0, 0, 0), 1000)).toMatchObject({ ok: false });
    for (let i = 0; i < 200; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(1 + (i % 50)));
      junk[0] = 1;
      expect(() => decodeEnvelope(g, junk, 1000)).not.toThrow();
    }
  });
});

describe('content frames', () => {
  it('DATA with a SURB-ack, DATA without, and ACK frames round-trip at the documented capacities', () => {
    expect(dataCapacity(g, AckMode.SURB)).toBe(g.contentBytes - 32 - g.surbBytes);
    const surb = crypto.getRandomValues(new Uint8Array(g.surbBytes));
    const parts = splitData(g, crypto.getRandomValues(new Uint8Array(2000)), AckMode.SURB);
    expect(parts.length).toBe(Math.ceil(2000 / dataCapacity(g, AckMode.SURB)));
    const c = encodeData(g, {
      envelopeId: id(),
      index: 1,
      count: parts.length,
      sentAtMs: 123,
      ackMode: AckMode.SURB,
      surb,
      data: parts[1]!,
    });
    expect(c.length).toBe(g.contentBytes);
    const f = decodeFrame(g, c);
    expect(f.type === 'data' && f.fragment.surb).toEqual(surb);
    expect(f.type === 'data' && f.fragment.data).toEqual(parts[1]);
    const entries = Array.from({ length: ackCapacity(g) }, (_, i) => ({ envelopeId: id(), index: i }));
    expect(decodeFrame(g, encodeAck(g, entries))).toEqual({ type: 'ack', entries });
  });

  it('never throws on arbitrary content', () => {
    for (let i = 0; i < 500; i++) {
      const c = crypto.getRandomValues(new Uint8Array(g.contentBytes));
      c[0] = 1 + (i % 4);
      expect(() => decodeFrame(g, c)).not.toThrow();
    }
  });
});
