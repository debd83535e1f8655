/**
 * Ports for a testnet's nodes (src/testnet/network.ts): the kernel may give a just-released port to the next
 * bind(0), so the picker must never hand the same port out twice, or two nodes collide with EADDRINUSE.
 */
import { describe, expect, it } from 'vitest';
import { freeTcpPort, freeUdpPort, unusedPort } from '../src/testnet/network.js';

describe('testnet ports', () => {
  it('a port the kernel offers again is skipped, not handed out twice', async () => {
    const offers = [40101, 40101, 40101, 40102];
    const probe = () => Promise.resolve(offers.shift()!);
    expect(await unusedPort(probe)).toBe(40101);
    expect(await unusedPort(probe)).toBe(40102);
    expect(offers).toEqual([]);
  });

  it('free UDP and TCP ports are distinct across both kinds', async () => {
    const ports = [];
    for (let i = 0; i < 50; i++) ports.push(await freeUdpPort(), await freeTcpPort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});
