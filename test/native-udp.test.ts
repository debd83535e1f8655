/**
 * The addon's batched UDP calls (native/udp.cc via src/node/udp-batch.ts): recvmmsg/sendmmsg over real
 * loopback sockets, SO_REUSEPORT groups and the random spread of one peer's datagrams over the group.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLoopixError } from '../src/errors.js';
import {
  BatchSocket,
  UDP_ADDR_BYTES,
  batchUdpSupported,
  closeUdpFd,
  decodeUdpAddress,
  encodeUdpAddress,
  openReusePortGroup,
} from '../src/node/udp-batch.js';

const linux = process.platform === 'linux';
const open: BatchSocket[] = [];
const plain: dgram.Socket[] = [];

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  for (const s of plain.splice(0)) s.close();
});

async function plainSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  plain.push(s);
  return s;
}

function datagram(i: number, bytes = 64): Buffer {
  const b = Buffer.alloc(bytes, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

describe.runIf(linux)('batched UDP in the addon', () => {
  it('is available on Linux', () => {
    expect(batchUdpSupported()).toBe(true);
  });

  it('encodes and decodes IPv4 and IPv6 addresses', () => {
    expect(decodeUdpAddress(encodeUdpAddress('127.0.0.1', 4242))).toEqual({ host: '127.0.0.1', port: 4242 });
    const v6 = decodeUdpAddress(encodeUdpAddress('::1', 65535));
    expect(v6).toEqual({ host: '0:0:0:0:0:0:0:1', port: 65535 });
    expect(decodeUdpAddress(encodeUdpAddress('2001:db8::8:800:200c:417a', 1)).host).toBe(
      '2001:db8:0:0:8:800:200c:417a',
    );
    expect(decodeUdpAddress(encodeUdpAddress('::ffff:10.1.2.3', 7)).host).toBe('0:0:0:0:0:ffff:a01:203');
    try {
      encodeUdpAddress('localhost', 1);
      expect.unreachable();
    } catch (err) {
      expect(isLoopixError(err, 'ERR_LOOPIX_UDP_HOST')).toBe(true);
    }
  });

  it('receives a burst with one recvmmsg call per batch, with lengths and source addresses', async () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 1, bufferBytes: 1 << 20 });
    let readable = 0;
    const sock = new BatchSocket(group.sockets[0]!.fd, 64, 32, { onReadable: () => readable++ });
    open.push(sock);
    sock.start();
    const peer = await plainSocket();
    for (let i = 0; i < 50; i++) peer.send(datagram(i), group.port, '127.0.0.1');
    await vi.waitFor(() => expect(readable).toBeGreaterThan(0));
    const seen: number[] = [];
    await vi.waitFor(() => {
      for (;;) {
        const b = sock.receive();
        if (b.count === 0) break;
        expect(b.count).toBeLessThanOrEqual(32);
        for (let i = 0; i < b.count; i++) {
          expect(b.lengths[i]).toBe(64);
          seen.push(Buffer.from(b.slab.buffer, b.slab.byteOffset + i * b.slotBytes, 4).readUInt32BE(0));
          expect(decodeUdpAddress(b.addrs, i * UDP_ADDR_BYTES)).toEqual({
            host: '127.0.0.1',
            port: peer.address().port,
          });
        }
      }
      expect(seen.length).toBe(50);
    });
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('reports how long each datagram waited in the kernel buffer (kernel receive timestamps)', async () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 1, bufferBytes: 0 });
    const sock = new BatchSocket(group.sockets[0]!.fd, 64, 8, { onReadable: () => undefined });
    open.push(sock);
    const peer = await plainSocket();
    peer.send(datagram(1), group.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 120));
    let wait = -1;
    await vi.waitFor(() => {
      const b = sock.receive();
      expect(b.count).toBe(1);
      wait = b.waits[0]!;
    });
    expect(wait).toBeGreaterThanOrEqual(100);
    expect(wait).toBeLessThan(10_000);
  });

  it('reports an oversized datagram as longer than the slot instead of cutting it silently', async () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 1, bufferBytes: 0 });
    const sock = new BatchSocket(group.sockets[0]!.fd, 64, 8, { onReadable: () => undefined });
    open.push(sock);
    const peer = await plainSocket();
    peer.send(datagram(1, 200), group.port, '127.0.0.1');
    peer.send(datagram(2, 10), group.port, '127.0.0.1');
    const lengths: number[] = [];
    await vi.waitFor(() => {
      const b = sock.receive();
      for (let i = 0; i < b.count; i++) lengths.push(b.lengths[i]!);
      expect(lengths).toHaveLength(2);
    });
    expect(lengths[0]).toBeGreaterThan(64);
    expect(lengths[1]).toBe(10);
  });

  it('returns 0 without blocking when nothing waits', () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 1, bufferBytes: 0 });
    const sock = new BatchSocket(group.sockets[0]!.fd, 64, 8, { onReadable: () => undefined });
    open.push(sock);
    const t0 = performance.now();
    expect(sock.receive().count).toBe(0);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('sends a batch to several destinations with one sendmmsg call and reports a bad address per datagram', async () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 1, bufferBytes: 1 << 20 });
    const sock = new BatchSocket(group.sockets[0]!.fd, 64, 8, { onReadable: () => undefined });
    open.push(sock);
    const a = await plainSocket();
    const b = await plainSocket();
    const got: { to: string; i: number; from: number }[] = [];
    for (const [name, s] of [
      ['a', a],
      ['b', b],
    ] as const)
      s.on('message', (m, r) => got.push({ to: name, i: m.readUInt32BE(0), from: r.port }));
    const count = 21;
    const slab = new Uint8Array(count * 64);
    const addrs = new Uint8Array(count * UDP_ADDR_BYTES);
    for (let i = 0; i < count; i++) {
      slab.set(datagram(i), i * 64);
      if (i === 10) continue; // family 0: not an address
      const to = i % 2 ? a : b;
      encodeUdpAddress('127.0.0.1', to.address().port, addrs, i * UDP_ADDR_BYTES);
    }
    const status = new Int32Array(count);
    expect(sock.send(slab, 64, count, addrs, status)).toBe(count);
    expect(status[10]).toBeGreaterThan(0);
    expect([...status].filter((s) => s !== 0)).toHaveLength(1);
    await vi.waitFor(() => expect(got).toHaveLength(count - 1));
    for (const g of got) {
      expect(g.to).toBe(g.i % 2 ? 'a' : 'b');
      expect(g.from).toBe(group.port);
    }
  });

  it('spreads the datagrams of one peer (one 4-tuple) over every socket of a reuseport group', async () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 3, bufferBytes: 1 << 20 });
    expect(group.sockets).toHaveLength(3);
    expect(new Set(group.sockets.map((s) => s.port))).toEqual(new Set([group.port]));
    expect(group.spread).toBe(true);
    const counts = [0, 0, 0];
    const socks = group.sockets.map((s, k) => {
      const sock = new BatchSocket(s.fd, 64, 64, { onReadable: () => undefined });
      open.push(sock);
      return { sock, k };
    });
    const peer = await plainSocket();
    const total = 600;
    for (let i = 0; i < total; i++) peer.send(datagram(i), group.port, '127.0.0.1');
    await vi.waitFor(() => {
      for (const { sock, k } of socks)
        for (let b = sock.receive(); b.count > 0; b = sock.receive()) counts[k]! += b.count;
      expect(counts.reduce((x, y) => x + y, 0)).toBe(total);
    });
    // Uniform over 3 sockets: each gets 200 ± 5 sd (sd ≈ 11.5); a 4-tuple hash would give one socket all 600.
    for (const c of counts) expect(c).toBeGreaterThan(140);
  });

  it('refuses a second bind of a port held without SO_REUSEPORT, naming the address', async () => {
    const held = await plainSocket();
    try {
      openReusePortGroup({ host: '127.0.0.1', port: held.address().port, sockets: 2, bufferBytes: 0 });
      expect.unreachable();
    } catch (err) {
      expect(isLoopixError(err, 'ERR_LOOPIX_UDP_BIND')).toBe(true);
      expect((err as Error).message).toContain(`127.0.0.1:${held.address().port}`);
    }
  });

  it('throws a TypeError for a wrong argument instead of crashing', () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 1, bufferBytes: 0 });
    const fd = group.sockets[0]!.fd;
    const sock = new BatchSocket(fd, 64, 8, { onReadable: () => undefined });
    open.push(sock);
    expect(() => sock.send(new Uint8Array(10), 64, 1, new Uint8Array(UDP_ADDR_BYTES), new Int32Array(1))).toThrow(
      RangeError,
    );
    expect(() =>
      sock.send('x' as unknown as Uint8Array, 64, 1, new Uint8Array(UDP_ADDR_BYTES), new Int32Array(1)),
    ).toThrow(TypeError);
  });

  it('closes a socket nobody took over by its fd', () => {
    const group = openReusePortGroup({ host: '127.0.0.1', port: 0, sockets: 2, bufferBytes: 0 });
    for (const s of group.sockets) closeUdpFd(s.fd);
    const again = openReusePortGroup({ host: '127.0.0.1', port: group.port, sockets: 1, bufferBytes: 0 });
    closeUdpFd(again.sockets[0]!.fd);
  });
});
