/**
 * A node identity on the wire for tests: a UDP socket bound to a topology node's announced address that
 * speaks the link protocol (src/node/link) with that node's keys — it seals what it sends for the node it
 * sends to and opens what arrives (`received[i].packet` is the Sphinx packet, `.datagram` the bytes on the
 * wire). What it cannot open is kept in `unopened` with the reason. Tests use it to stand in for the
 * neighbours of a node under test, and to replay or tamper with real datagrams as an attacker would.
 */
import dgram from 'node:dgram';
import { LinkLayer, nativeLinkCipher } from '../../src/node/link/index.js';
import { loadNodeKeyFile } from '../../src/node/keys.js';
import type { TopologyIndex } from '../../src/topology/document.js';
import type { NodeEntry } from '../../src/topology/types.js';
import { Arrivals } from './arrivals.js';

export interface LinkPeerOptions {
  readonly topology: TopologyIndex;
  readonly self: NodeEntry;
  /** Private keys by epoch. */
  readonly keys: ReadonlyMap<number, Uint8Array>;
  /** Epoch to seal with (default: the topology's schedule at the time of sealing). */
  readonly epoch?: () => number;
  readonly x25519: (sk: Uint8Array, pk: Uint8Array) => Uint8Array;
  /** Names → entries for `send(name, …)` (default: the topology's node names). */
  readonly names?: Readonly<Record<string, NodeEntry>>;
}

export class LinkPeer {
  readonly received: { packet: Buffer; datagram: Buffer; at: number }[] = [];
  readonly unopened: { datagram: Buffer; reason: string }[] = [];
  private readonly arrivals = new Arrivals();
  private readonly names: Readonly<Record<string, NodeEntry>>;

  private constructor(
    readonly socket: dgram.Socket,
    readonly link: LinkLayer,
    readonly o: LinkPeerOptions,
  ) {
    this.names = o.names ?? Object.fromEntries(o.topology.doc.nodes.map((n) => [n.name, n]));
    socket.on('message', (msg, rinfo) => {
      const datagram = Buffer.from(msg);
      const packet = link.open(msg, rinfo.address, rinfo.port);
      if (typeof packet === 'string') this.unopened.push({ datagram, reason: packet });
      else this.received.push({ packet: Buffer.from(packet), datagram, at: performance.now() });
      this.arrivals.notify();
    });
  }

  static async bind(o: LinkPeerOptions): Promise<LinkPeer> {
    const link = new LinkLayer({
      geometry: o.topology.geometry,
      topology: o.topology,
      selfId: o.self.id,
      ownKey: (epoch) => o.keys.get(epoch),
      currentEpoch: o.epoch ?? (() => o.topology.epochAt(Date.now())),
      x25519: o.x25519,
      cipher: nativeLinkCipher(),
    });
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(o.self.udp.port, '127.0.0.1', () => resolve());
    });
    return new LinkPeer(s, link, o);
  }

  /** Binds as the node whose key file is `keyFile` (a testnet's files). */
  static fromKeyFile(
    topology: TopologyIndex,
    self: NodeEntry,
    keyFile: string,
    x25519: LinkPeerOptions['x25519'],
  ): Promise<LinkPeer> {
    const file = loadNodeKeyFile(keyFile);
    const keys =
      file.kind === 'epochs'
        ? new Map(file.keys.map((k) => [k.epoch, k.privateKey]))
        : new Map([[topology.doc.epoch, file.key.privateKey]]);
    return LinkPeer.bind({ topology, self, keys, x25519 });
  }

  private entry(to: string | NodeEntry): NodeEntry {
    if (typeof to !== 'string') return to;
    const e = this.names[to];
    if (!e) throw new Error(`no node named ${to}`);
    return e;
  }

  /** The datagram that carries `packet` to node `to` (sealed now: a fresh sequence number). */
  seal(packet: Uint8Array, to: string | NodeEntry): Uint8Array {
    const d = this.link.seal(packet, this.entry(to).udp);
    if (typeof d === 'string') throw new Error(`${this.o.self.name} cannot seal for ${this.entry(to).name}: ${d}`);
    return d;
  }

  /** Seals each packet for node `to` and sends it there. */
  async send(to: string | NodeEntry, packets: readonly Uint8Array[]): Promise<void> {
    const e = this.entry(to);
    await this.sendRaw(
      e.udp.port,
      packets.map((p) => this.seal(p, e)),
    );
  }

  /** Seals and sends without waiting for the sends to complete (a stream at a high rate). */
  sendNow(to: string | NodeEntry, packets: readonly Uint8Array[]): void {
    const e = this.entry(to);
    for (const p of packets) this.socket.send(this.seal(p, e), e.udp.port, '127.0.0.1');
  }

  /** Sends datagrams as they are (already sealed, replayed or forged) from this peer's address. */
  async sendRaw(port: number, datagrams: readonly Uint8Array[]): Promise<void> {
    for (const d of datagrams) {
      await new Promise<void>((resolve, reject) =>
        this.socket.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
  }

  /** Resolves once `n` packets have been opened (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    return this.arrivals.until(
      () => this.received.length,
      n,
      timeoutMs,
      () =>
        `${this.o.self.name}: expected ${n} packets, got ${this.received.length} (unopened: ${this.unopened.map((u) => u.reason).join(', ') || 'none'})`,
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
