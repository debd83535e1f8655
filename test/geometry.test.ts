/** The geometry object: default sizes fit one UDP datagram, other geometries are parameters. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GEOMETRY, makeGeometry } from '../src/geometry.js';

describe('geometry', () => {
  it('defaults to 6 hops, a 1 KiB content and one 1314-byte packet that fits a 1500-byte-MTU datagram', () => {
    const g = DEFAULT_GEOMETRY;
    expect([g.maxHops, g.addressBytes, g.contentBytes]).toEqual([6, 16, 1024]);
    expect([g.routingBytes, g.slotBytes, g.betaBytes, g.headerBytes, g.payloadBytes, g.packetBytes]).toEqual([
      21, 37, 222, 274, 1040, 1314,
    ]);
    expect(g.packetBytes).toBeLessThanOrEqual(1472);
    // On node ↔ node links each packet travels with a 12-byte link header and a 16-byte tag: still one datagram.
    expect([g.linkHeaderBytes, g.linkTagBytes, g.linkOverheadBytes, g.datagramBytes]).toEqual([12, 16, 28, 1342]);
    expect(g.datagramBytes).toBeLessThanOrEqual(1472);
    expect(g.fitsUdpMtu1500).toBe(true);
    expect(g.offsets).toEqual({ alpha: 4, beta: 36, gamma: 258, payload: 274 });
    expect([g.surbBytes, g.recordBytes]).toEqual([322, 56]);
    expect(Object.isFrozen(g)).toBe(true);
  });

  it('derives every length of a larger geometry from its three parameters', () => {
    const g = makeGeometry({ maxHops: 10, addressBytes: 32, contentBytes: 8192 });
    expect(g.slotBytes).toBe(1 + 4 + 32 + 16);
    expect(g.packetBytes).toBe(4 + 32 + 10 * 53 + 16 + 16 + 8192);
    expect(g.fitsUdpMtu1500).toBe(false);
  });

  it('rejects out-of-range or non-integer parameters with an error naming the field and value', () => {
    expect(() => makeGeometry({ maxHops: 0 })).toThrow(/geometry\.maxHops must be in \[1, 32\], got 0/);
    expect(() => makeGeometry({ addressBytes: 4 })).toThrow(/geometry\.addressBytes/);
    expect(() => makeGeometry({ contentBytes: 16 })).toThrow(/geometry\.contentBytes/);
    expect(() => makeGeometry({ maxHops: 2.5 })).toThrow(TypeError);
    expect(() => makeGeometry({ maxHops: '6' as unknown as number })).toThrow(/geometry\.maxHops must be an integer/);
  });
});
