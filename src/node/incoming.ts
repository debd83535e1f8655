/**
 * The first stage: the node's UDP socket and the checks that need no cryptography. One Sphinx packet per
 * datagram (Loopix §3); each arrival is timestamped (performance.now(), ms) because the sender-chosen delay
 * runs from the arrival, and the AQM measures queueing delay from it.
 *
 * Checks here, before any work is spent on a packet: the length must be exactly `geometry.packetBytes`
 * ("bad_size") and the prefix epoch must name one of the node's live keys (docs/packet-format.md §2: the
 * epoch picks the key, so a packet for another epoch cannot be unwrapped): an epoch whose key was retired
 * is "key_expired", any other "wrong_epoch" (src/node/epoch-keys.ts). Client packets submitted over
 * a provider's WebSocket enter through `submit` and pass the same checks.
 *
 * With a link layer (src/node/link, every node does this), a datagram is first opened by it: only a datagram
 * of `geometry.datagramBytes` from a node of the previous layer, sealed under that link's key and not seen
 * before on that link, yields a packet ("bad_size", "link_unauthenticated", "wrong_layer", "link_replay"
 * otherwise). So UDP from anything that is not a node — a client, an attacker — is dropped before crypto:
 * clients reach a provider only through its authenticated WebSocket sessions (`submit`).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP, isIPv6 } from 'node:net';
import type { Geometry } from '../geometry.js';
import { prefixEpoch } from './epoch-keys.js';
import type { CounterName, DropReason } from './metrics.js';

/** Where accepted packets go (the AQM gate + batcher in the glue). The packet is only valid during the call. */
export interface PacketSink {
  accept(packet: Uint8Array, arrivalMs: number): void;
}

export interface IncomingCounters {
  count(name: CounterName, by?: number): void;
  drop(reason: DropReason, by?: number): void;
}

/** The link layer's receive side (src/node/link/index.ts). */
export interface LinkOpener {
  open(datagram: Uint8Array, host: string, port: number): Uint8Array | DropReason;
}

/** Prefix epoch (mod 2^16) → the full epoch of a live key, or why there is none (EpochKeyring.resolve). */
export type EpochResolver = (epoch16: number) => number | 'key_expired' | 'wrong_epoch';

export class Incoming {
  private readonly resolve: EpochResolver;

  constructor(
    private readonly g: Geometry,
    /** The live-key check; a number accepts exactly that epoch (mod 2^16; tests and static networks). */
    epoch: number | EpochResolver,
    private readonly sink: PacketSink,
    private readonly metrics: IncomingCounters,
    /** Absent only in unit tests of this stage: then datagrams are bare packets. */
    private readonly link?: LinkOpener,
  ) {
    if (typeof epoch === 'number') {
      const only = epoch & 0xffff;
      this.resolve = (e) => (e === only ? epoch : 'wrong_epoch');
    } else this.resolve = epoch;
  }

  /** A datagram from the socket, from `source` (required with a link layer). Never throws. */
  onDatagram(
    datagram: Uint8Array,
    arrivalMs: number = performance.now(),
    source?: { readonly address: string; readonly port: number },
  ): void {
    this.metrics.count('received');
    if (this.link === undefined) {
      this.check(datagram, arrivalMs);
      return;
    }
    const packet = source ? this.link.open(datagram, source.address, source.port) : 'link_unauthenticated';
    if (typeof packet === 'string') {
      this.metrics.drop(packet);
      return;
    }
    this.check(packet, arrivalMs);
  }

  /** A packet a client submitted to this provider (processed as its first hop). Never throws. */
  submit(packet: Uint8Array, arrivalMs: number = performance.now()): void {
    this.metrics.count('received');
    this.metrics.count('client_submitted');
    this.check(packet, arrivalMs);
  }

  private check(packet: Uint8Array, arrivalMs: number): void {
    if (!(packet instanceof Uint8Array) || packet.length !== this.g.packetBytes) {
      this.metrics.drop('bad_size');
      return;
    }
    const epoch = this.resolve(prefixEpoch(packet, 0));
    if (typeof epoch !== 'number') {
      this.metrics.drop(epoch);
      return;
    }
    this.sink.accept(packet, arrivalMs);
  }
}

export interface UdpSocketOptions {
  readonly host: string;
  readonly port: number;
  /** Requested SO_RCVBUF / SO_SNDBUF, bytes (the kernel may cap it; read back the effective size). */
  readonly bufferBytes: number;
}

export interface BoundUdpSocket {
  readonly socket: dgram.Socket;
  readonly port: number;
  /** Effective kernel buffer sizes after the request (Linux reports twice the usable size). */
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  /** Why a buffer request failed, if it did (the node still runs, with the default size). */
  readonly bufferWarning?: string;
}

/**
 * Binds the node's UDP socket (used both to receive and to send, so peers see packets from the node's
 * announced port) and asks for large kernel buffers, so a burst is queued by the kernel rather than lost
 * before we can count it. Rejects with an Error naming the address when binding fails.
 */
export function bindUdpSocket(o: UdpSocketOptions): Promise<BoundUdpSocket> {
  const socket = dgram.createSocket({
    type: isIPv6(o.host) ? 'udp6' : 'udp4',
    recvBufferSize: o.bufferBytes,
    sendBufferSize: o.bufferBytes,
    lookup: literalLookup,
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(new Error(`cannot bind UDP ${o.host}:${o.port}: ${err.message}`));
    };
    socket.once('error', onError);
    socket.bind(o.port, o.host, () => {
      socket.off('error', onError);
      let bufferWarning: string | undefined;
      // createSocket's size options are applied at bind; set again explicitly and read back what stuck.
      try {
        socket.setRecvBufferSize(o.bufferBytes);
        socket.setSendBufferSize(o.bufferBytes);
      } catch (err) {
        bufferWarning = (err as Error).message;
      }
      let recv = 0,
        send = 0;
      try {
        recv = socket.getRecvBufferSize();
        send = socket.getSendBufferSize();
      } catch (err) {
        bufferWarning ??= (err as Error).message;
      }
      resolve({ socket, port: socket.address().port, recvBufferBytes: recv, sendBufferBytes: send, bufferWarning });
    });
  });
}

/**
 * The socket's address resolver: an IP literal (what topologies carry) resolves synchronously, so a send goes
 * straight to the kernel; Node's default (dns.lookup) answers even a literal on the next tick, which costs a
 * closure and an event-loop hop per datagram. Host names still go through dns.lookup.
 */
function literalLookup(
  address: string,
  family: unknown,
  callback: (err: Error | null, address: string, family: number) => void,
): void {
  const v = isIP(address);
  if (v !== 0) callback(null, address, v);
  else dns.lookup(address, family as dns.LookupOneOptions, callback);
}

/**
 * Datagrams the kernel dropped for our socket because its receive buffer was full (Linux: the `drops`
 * column of /proc/net/udp{,6} for the socket bound to `port`): loss before the node could count it, so it
 * is reported as a gauge rather than hidden. Null where the kernel does not expose it.
 */
export function kernelUdpDrops(port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let found: number | null = null;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13 || !cols[1]!.endsWith(`:${hexPort}`)) continue;
      found = (found ?? 0) + Number(cols[cols.length - 1]);
    }
  }
  return found;
}
