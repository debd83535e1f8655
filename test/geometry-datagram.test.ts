/**
 * A geometry whose packet cannot travel as one UDP datagram (65,507 bytes of payload, the node link's framing
 * included) is refused when it is built — at config / topology load — with the computed size in the message,
 * instead of failing on every send.
 */
import { describe, expect, it } from 'vitest';
import { makeGeometry, UDP_PAYLOAD_LIMIT } from '../src/geometry.js';
import { expectLoopixError } from './helpers/errors.js';

/** The node link's framing around a packet (header 12 + tag 16, docs/packet-format.md). */
const LINK = 28;

describe('geometry and the UDP datagram limit', () => {
  it('refuses a packet larger than one UDP datagram, naming its computed size', () => {
    const params = { maxHops: 32, addressBytes: 64, contentBytes: 65_000 };
    const caught = expectLoopixError(() => makeGeometry(params), 'ERR_LOOPIX_GEOMETRY_TOO_LARGE');
    // header 4 + 32 + 32 × (1 + 4 + 64 + 16) + 16, payload 16 + 65,000; plus the node link's 28-byte framing
    const size = 4 + 32 + 32 * (1 + 4 + 64 + 16) + 16 + 16 + 65_000;
    expect((caught as Error).message).toContain(String(size));
    expect((caught as Error).message).toContain(String(size + LINK));
    expect((caught as Error).message).toContain(String(UDP_PAYLOAD_LIMIT));
  });

  it('accepts the largest geometry that still fits', () => {
    const fixed = 4 + 32 + 7 * (1 + 4 + 64 + 16) + 16 + 16 + LINK;
    expect(makeGeometry({ maxHops: 7, addressBytes: 64, contentBytes: UDP_PAYLOAD_LIMIT - fixed }).packetBytes).toBe(
      UDP_PAYLOAD_LIMIT - LINK,
    );
    expect(() => makeGeometry({ maxHops: 7, addressBytes: 64, contentBytes: UDP_PAYLOAD_LIMIT - fixed + 1 })).toThrow(
      /65508 with the node link/,
    );
  });
});
