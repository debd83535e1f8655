/**
 * Batched UDP I/O for the sharded packet path (docs/pipeline.md "Sharded packet path"): a typed wrapper
 * around the addon's syscalls (native/udp.cc). Each packet-path worker owns one `BatchSocket`: a
 * non-blocking UDP socket bound with SO_REUSEPORT to the node's port, read with recvmmsg(2) into a slab of
 * fixed-size slots and written with sendmmsg(2) from a slab of packets, woken by a libuv poll handle on the
 * worker's own event loop. Everything else (queues, timers, the AQM, counting) is TypeScript.
 *
 * Addresses travel in a 20-byte form (UDP_ADDR_BYTES): family (4 | 6), reserved, port (big-endian), the IP.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LoopixError } from '../errors.js';
import { nativeAddonExports } from '../sphinx/native.js';

/** Bytes of one encoded UDP address (family, reserved, port BE, 16 address bytes). */
export const UDP_ADDR_BYTES = 20;
/** Poll events: the socket has datagrams to read / room to write / an error. */
export const POLL_READABLE = 1;
export const POLL_WRITABLE = 2;
export const POLL_ERROR = 4;

interface UdpAddon {
  readonly udpSupported: boolean;
  udpOpen(addr: Uint8Array, reusePort: boolean, bufferBytes: number): OpenedSocket;
  udpSpread(fd: number, groupSize: number): boolean;
  udpClose(fd: number): void;
  udpRecvBatch(
    fd: number,
    slab: Uint8Array,
    slotBytes: number,
    lengths: Int32Array,
    addrs: Uint8Array,
    waits?: Float64Array,
  ): number;
  udpSendBatch(
    fd: number,
    slab: Uint8Array,
    packetBytes: number,
    count: number,
    addrs: Uint8Array,
    status: Int32Array,
  ): number;
  UdpPoller: new (fd: number, callback: (events: number) => void) => { start(events: number): void; close(): void };
}

export interface OpenedSocket {
  readonly fd: number;
  readonly port: number;
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
}

function udpAddon(): UdpAddon {
  return nativeAddonExports() as unknown as UdpAddon;
}

/** Whether this platform has the batched socket calls (Linux). */
export function batchUdpSupported(): boolean {
  try {
    return udpAddon().udpSupported === true;
  } catch {
    return false;
  }
}

/** Encodes `host:port` (IP literals only, as topologies carry them) into `out[offset..offset+20]`. */
export function encodeUdpAddress(
  host: string,
  port: number,
  out: Uint8Array = new Uint8Array(UDP_ADDR_BYTES),
  offset = 0,
): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new LoopixError('ERR_LOOPIX_UDP_PORT', `UDP port must be an integer in [0, 65535], got ${port}`, {
      field: 'port',
    });
  out.fill(0, offset, offset + UDP_ADDR_BYTES);
  out[offset + 2] = port >>> 8;
  out[offset + 3] = port & 0xff;
  if (isIPv4(host)) {
    out[offset] = 4;
    const parts = host.split('.');
    for (let i = 0; i < 4; i++) out[offset + 4 + i] = Number(parts[i]);
  } else if (isIPv6(host)) {
    out[offset] = 6;
    out.set(ipv6Bytes(host), offset + 4);
  } else {
    throw new LoopixError(
      'ERR_LOOPIX_UDP_HOST',
      `UDP host must be an IPv4 or IPv6 literal, got ${JSON.stringify(host)}`,
      { field: 'host' },
    );
  }
  return out;
}

/** Decodes the 20-byte form at `b[offset..]` ("" host when the family is unset). */
export function decodeUdpAddress(b: Uint8Array, offset = 0): { host: string; port: number } {
  const port = (b[offset + 2]! << 8) | b[offset + 3]!;
  if (b[offset] === 4) return { host: `${b[offset + 4]}.${b[offset + 5]}.${b[offset + 6]}.${b[offset + 7]}`, port };
  if (b[offset] === 6) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(((b[offset + 4 + 2 * i]! << 8) | b[offset + 5 + 2 * i]!).toString(16));
    return { host: groups.join(':'), port };
  }
  return { host: '', port };
}

/** The 16 bytes of an IPv6 literal (already validated by isIPv6): "::" expanded, a dotted IPv4 tail allowed. */
function ipv6Bytes(host: string): Uint8Array {
  let text = host.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const p = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  const parse = (t: string | undefined) => (t ? t.split(':').map((x) => parseInt(x, 16)) : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const groups =
    halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >>> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

export interface ReusePortGroupOptions {
  readonly host: string;
  /** 0: the kernel picks a port for the first socket; the others join it. */
  readonly port: number;
  readonly sockets: number;
  /** Requested SO_RCVBUF and SO_SNDBUF per socket, bytes. */
  readonly bufferBytes: number;
}

export interface ReusePortGroup {
  readonly port: number;
  readonly sockets: readonly OpenedSocket[];
  /**
   * Whether datagrams are spread over the sockets at random (a classic BPF program on the group). Without it
   * the kernel hashes each datagram's 4-tuple to one socket, so all traffic of one upstream peer lands on one
   * worker (docs/pipeline.md "How one peer's traffic is spread").
   */
  readonly spread: boolean;
}

/**
 * Opens `sockets` UDP sockets sharing host:port with SO_REUSEPORT (one per packet-path worker), with a BPF
 * program that picks a random socket per datagram. Throws a LoopixError naming the address when binding fails;
 * closes what it opened.
 */
export function openReusePortGroup(o: ReusePortGroupOptions): ReusePortGroup {
  const a = udpAddon();
  if (!a.udpSupported)
    throw new LoopixError('ERR_LOOPIX_UDP_UNSUPPORTED', 'batched UDP (recvmmsg/sendmmsg, SO_REUSEPORT) needs Linux', {
      field: 'pipeline.mode',
    });
  const addr = encodeUdpAddress(o.host, o.port);
  const opened: OpenedSocket[] = [];
  try {
    for (let i = 0; i < o.sockets; i++) {
      const s = a.udpOpen(addr, true, o.bufferBytes);
      opened.push(s);
      if (i === 0) encodeUdpAddress(o.host, s.port, addr);
    }
  } catch (err) {
    for (const s of opened) a.udpClose(s.fd);
    throw new LoopixError('ERR_LOOPIX_UDP_BIND', `cannot bind UDP ${o.host}:${o.port}: ${(err as Error).message}`, {
      field: 'listen',
    });
  }
  // One program per group, attached once every member is bound.
  const spread = opened.length > 1 && a.udpSpread(opened[0]!.fd, opened.length);
  return { port: opened[0]?.port ?? o.port, sockets: opened, spread };
}

/** What one receive call returned: `count` datagrams in slots of `slotBytes`, their lengths and sources. */
export interface ReceivedBatch {
  readonly count: number;
  readonly slab: Uint8Array;
  readonly slotBytes: number;
  readonly lengths: Int32Array;
  readonly addrs: Uint8Array;
  /** ms each datagram waited in the kernel's receive buffer before this call (0 without a kernel timestamp). */
  readonly waits: Float64Array;
}

/**
 * One worker's socket. `onReadable` is called (on the owning thread's event loop) whenever datagrams wait;
 * it drains them with `receive()`. Sends are batched by the caller into `send(slab, count, addrs)`; what the
 * kernel could not take (socket buffer full) is reported back and the caller retries on `onWritable`.
 */
export class BatchSocket {
  readonly slotBytes: number;
  private readonly slab: Uint8Array;
  private readonly lengths: Int32Array;
  private readonly addrs: Uint8Array;
  private readonly waits: Float64Array;
  private readonly a = udpAddon();
  private readonly poller: { start(events: number): void; close(): void };
  private events = 0;
  private closed = false;

  constructor(
    readonly fd: number,
    /** Largest datagram accepted whole; a longer one is reported with length slotBytes (so: bad size). */
    maxDatagramBytes: number,
    readonly batchSize: number,
    private readonly handlers: { onReadable(): void; onWritable?(): void; onError?(): void },
  ) {
    this.slotBytes = maxDatagramBytes + 1;
    this.slab = new Uint8Array(batchSize * this.slotBytes);
    this.lengths = new Int32Array(batchSize);
    this.addrs = new Uint8Array(batchSize * UDP_ADDR_BYTES);
    this.waits = new Float64Array(batchSize);
    this.poller = new this.a.UdpPoller(fd, (ev) => this.onEvent(ev));
  }

  /** Starts delivering readability events. */
  start(): void {
    this.setEvents(this.events | POLL_READABLE);
  }

  /** Reads up to batchSize datagrams (0 when none wait). The slab is reused by the next call. */
  receive(): ReceivedBatch {
    const count = this.closed
      ? 0
      : this.a.udpRecvBatch(this.fd, this.slab, this.slotBytes, this.lengths, this.addrs, this.waits);
    return {
      count,
      slab: this.slab,
      slotBytes: this.slotBytes,
      lengths: this.lengths,
      addrs: this.addrs,
      waits: this.waits,
    };
  }

  /**
   * Sends `count` packets of `packetBytes` from `slab` to the addresses in `addrs`; `status[i]` gets 0 or the
   * errno of a datagram that failed for good. Returns how many were handled; fewer than count means the
   * socket buffer is full (the caller keeps the rest and calls `wantWritable()`).
   */
  send(slab: Uint8Array, packetBytes: number, count: number, addrs: Uint8Array, status: Int32Array): number {
    if (this.closed || count === 0) return 0;
    return this.a.udpSendBatch(this.fd, slab, packetBytes, count, addrs, status);
  }

  /** Asks for one onWritable call when the socket has room again. */
  wantWritable(want: boolean): void {
    this.setEvents(want ? this.events | POLL_WRITABLE : this.events & ~POLL_WRITABLE);
  }

  /** Stops polling and closes the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller.close();
    this.a.udpClose(this.fd);
  }

  private setEvents(ev: number): void {
    if (this.closed || ev === this.events) return;
    this.events = ev;
    this.poller.start(ev);
  }

  private onEvent(ev: number): void {
    if (this.closed) return;
    if (ev & POLL_ERROR) this.handlers.onError?.();
    if (ev & POLL_READABLE) this.handlers.onReadable();
    if (ev & POLL_WRITABLE) {
      this.setEvents(this.events & ~POLL_WRITABLE);
      this.handlers.onWritable?.();
    }
  }
}

/** Closes a socket by fd (sockets opened by openReusePortGroup that no worker took over). */
export function closeUdpFd(fd: number): void {
  udpAddon().udpClose(fd);
}
