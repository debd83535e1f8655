/**
 * Messages ↔ packet contents: round trips at the edges, any order, duplicates, bounded memory, size limits.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeFragment,
  FRAGMENT_HEADER_BYTES,
  fragmentCapacity,
  fragmentMessage,
  Reassembler,
} from '../src/client/fragments.js';
import { DEFAULT_GEOMETRY, makeGeometry } from '../src/geometry.js';

const g = DEFAULT_GEOMETRY;
const cap = fragmentCapacity(g);
const MAX = 64 * 1024;

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function roundTrip(bytes: Uint8Array, maxMessageBytes = MAX, order: (c: Uint8Array[]) => Uint8Array[] = (c) => c) {
  const { messageId, contents } = fragmentMessage(g, bytes, { maxMessageBytes, sentAtMs: 1_700_000_000_123 });
  for (const c of contents) expect(c.length).toBe(g.contentBytes);
  const r = new Reassembler(g, { maxMessageBytes });
  const results = order(contents.slice()).map((c) => r.add(c));
  const complete = results.filter((x) => x.status === 'complete');
  expect(complete.length).toBe(1);
  const done = complete[0]!;
  if (done.status !== 'complete') throw new Error('unreachable');
  expect(done.message.messageId).toBe(Buffer.from(messageId).toString('hex'));
  expect(done.message.sentAtMs).toBe(1_700_000_000_123);
  expect(Buffer.from(done.message.bytes).equals(Buffer.from(bytes))).toBe(true);
  expect(r.incomplete).toBe(0);
  return { contents, results };
}

describe('fragmentation', () => {
  it('round-trips 1 byte, an empty message, exactly one content, one content + 1, ten contents, and the maximum size', () => {
    expect(roundTrip(random(1)).contents.length).toBe(1);
    expect(roundTrip(new Uint8Array(0)).contents.length).toBe(1);
    expect(roundTrip(random(cap)).contents.length).toBe(1);
    expect(roundTrip(random(cap + 1)).contents.length).toBe(2);
    expect(roundTrip(random(10 * cap)).contents.length).toBe(10);
    expect(roundTrip(random(MAX)).contents.length).toBe(Math.ceil(MAX / cap));
  });

  it('the header is 31 bytes, so the smallest geometry (C = 32) still carries data', () => {
    expect(FRAGMENT_HEADER_BYTES).toBe(31);
    const tiny = makeGeometry({ contentBytes: 32 });
    const { contents } = fragmentMessage(tiny, random(5), { maxMessageBytes: 100 });
    expect(contents.length).toBe(5);
    const r = new Reassembler(tiny, { maxMessageBytes: 100 });
    expect(contents.map((c) => r.add(c).status)).toEqual(['partial', 'partial', 'partial', 'partial', 'complete']);
  });

  it('reassembles fragments in any order', () => {
    for (let i = 0; i < 5; i++) roundTrip(random(10 * cap - 17), MAX, shuffle);
    roundTrip(random(7 * cap), MAX, (c) => c.reverse());
  });

  it('ignores duplicate fragments, before and after the message completed', () => {
    const { results } = roundTrip(random(3 * cap), MAX, (c) => [c[0]!, c[0]!, c[2]!, c[1]!, c[1]!, c[0]!, c[2]!]);
    expect(results.map((r) => r.status)).toEqual([
      'partial',
      'duplicate',
      'partial',
      'complete',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
    const single = roundTrip(random(10), MAX, (c) => [c[0]!, c[0]!]);
    expect(single.results.map((r) => r.status)).toEqual(['complete', 'duplicate']);
  });

  it('interleaved messages reassemble independently', () => {
    const a = fragmentMessage(g, random(3 * cap), { maxMessageBytes: MAX });
    const b = fragmentMessage(g, random(2 * cap), { maxMessageBytes: MAX });
    const r = new Reassembler(g, { maxMessageBytes: MAX });
    const statuses = [a.contents[0]!, b.contents[1]!, a.contents[2]!, b.contents[0]!, a.contents[1]!].map(
      (c) => r.add(c).status,
    );
    expect(statuses).toEqual(['partial', 'partial', 'partial', 'complete', 'complete']);
  });

  it('rejects a message over maxMessageBytes with a RangeError naming bytes', () => {
    expect(() => fragmentMessage(g, new Uint8Array(MAX + 1), { maxMessageBytes: MAX })).toThrow(RangeError);
    expect(() => fragmentMessage(g, new Uint8Array(MAX + 1), { maxMessageBytes: MAX })).toThrow(
      /bytes must be at most maxMessageBytes/,
    );
  });

  it('rejects malformed contents without throwing', () => {
    const { contents } = fragmentMessage(g, random(3 * cap), { maxMessageBytes: MAX });
    const r = new Reassembler(g, { maxMessageBytes: MAX });
    expect(r.add(new Uint8Array(g.contentBytes))).toEqual({ status: 'invalid', reason: 'type' });
    expect(r.add(new Uint8Array(5))).toEqual({ status: 'invalid', reason: 'short' });
    const badIndex = contents[0]!.slice();
    badIndex[19] = 9; // index 9 of 3
    expect(r.add(badIndex)).toEqual({ status: 'invalid', reason: 'index' });
    const badLength = contents[0]!.slice();
    badLength[24] = 1; // a non-last fragment that is not full
    expect(r.add(badLength)).toEqual({ status: 'invalid', reason: 'length' });
    // A fragment count implying more than maxMessageBytes.
    expect(decodeFragment(g, contents[0]!, cap).ok).toBe(false);
  });

  it('keeps memory bounded: incomplete messages expire and the oldest are evicted', () => {
    let now = 0;
    const r = new Reassembler(g, { maxMessageBytes: MAX, expireMs: 1000, maxIncompleteMessages: 3, now: () => now });
    const msgs = Array.from({ length: 5 }, () => fragmentMessage(g, random(2 * cap), { maxMessageBytes: MAX }));
    for (const m of msgs) r.add(m.contents[0]!);
    expect(r.incomplete).toBe(3);
    expect(r.discarded).toBe(2);
    // The oldest two were evicted: their second halves start new partials.
    expect(r.add(msgs[4]!.contents[1]!).status).toBe('complete');
    now = 5000;
    expect(r.expire()).toBe(2);
    expect(r.incomplete).toBe(0);
    expect(r.incompleteBytes).toBe(0);
    const byBytes = new Reassembler(g, { maxMessageBytes: 4 * cap, maxIncompleteBytes: 4 * cap });
    for (let i = 0; i < 10; i++)
      byBytes.add(fragmentMessage(g, random(4 * cap), { maxMessageBytes: 4 * cap }).contents[0]!);
    expect(byBytes.incompleteBytes).toBeLessThanOrEqual(4 * cap);
  });
});
