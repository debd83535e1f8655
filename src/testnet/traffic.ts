/**
 * The testnet's demo workload: clients connected to the providers, each sending application messages to a
 * random other client as a Poisson process, with sizes cycling through one byte, exactly one packet's worth,
 * four packets' worth and a random size up to two packets' worth. Every received message is compared byte for
 * byte with what was sent, and its end-to-end latency (send → delivery to the recipient's application)
 * recorded.
 *
 * Offered load. A client's real packets take the slots of its λP stream (Loopix §3.2): each fragment takes
 * one slot at the sender and its SURB-ack one slot at the recipient, so a message of f fragments costs 2f
 * slots. With every client sending one message per interval T on average, the λP streams are busy a fraction
 * ρ = 2 f̄ / (T λP) of their slots. At ρ ≥ 1 the send buffers grow without bound (a queue served at λP and fed
 * faster) and end-to-end latency with them; by default the interval is chosen for ρ = DEFAULT_OFFERED_LOAD.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { LoopixClient } from '../client/client.js';
import { createNodeClient } from '../client/node.js';
import { supportsSurbAcks } from '../client/frames.js';
import { poLayout } from '../postoffice/wire.js';
import { NetworkParamsSchema, type NetworkParams } from '../config/schema.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/document.js';
import { percentileOfSorted } from '../util/percentile.js';
import { writeKeyFile } from './network.js';
import { DirectoryFetcher, type FetcherOptions } from '../directory/fetcher.js';
import { DirectoryFollower } from '../directory/follower.js';

export interface TrafficOptions {
  readonly clients: number;
  /**
   * Mean seconds between two messages of one client (default: the interval at which the λP streams are busy
   * a fraction DEFAULT_OFFERED_LOAD of their slots, see `offeredLoad`).
   */
  readonly messageIntervalS?: number;
  readonly params: Partial<NetworkParams>;
  readonly backend: SphinxBackend;
  readonly topology: TopologyIndex;
  readonly dir: string;
  /** `--post-office`: every client opens a mailbox at the post office; messages go to mailboxes (one envelope each). */
  readonly postOffice?: boolean;
  /**
   * `--check-mixing`: client 0 is the probe of the sender-unobservability check (src/mixing/analysis.ts). It
   * sends no random demo messages, records the wall-clock time of every packet it emits (`probeSends`), and
   * gets its real messages only from queueProbeBacklog().
   */
  readonly probeClient?: boolean;
  /**
   * The directory authorities: every client follows their documents itself (fetch, k-of-n check, its own
   * cache file `client-<i>.topology.json`) instead of being handed the topology.
   */
  readonly directory?: FetcherOptions;
  /** Log lines (a client whose document expired says why it stops). */
  readonly log?: (line: string) => void;
}

interface Expected {
  readonly bytes: Buffer;
  readonly to: number;
  readonly from: number;
  /** performance.now() at send(). */
  readonly sentAt: number;
}

/** A message sent and not (yet) delivered: after the drain, a lost one (src/testnet/failures.ts). */
export interface Undelivered {
  readonly from: number;
  readonly to: number;
  readonly bytes: number;
  /** performance.now() at send(). */
  readonly sentAt: number;
}

/** Bound on the probe client's recorded send times (3 packets/s by default: ~90 h). */
const PROBE_SENDS_MAX = 1_000_000;

/**
 * Fraction of the λP slots the default demo traffic fills: low enough that a message's fragments rarely wait
 * behind another message's (an M/D/1-like buffer at ρ = 0.5 waits about half a slot on average), high enough
 * that a 20-s run carries a few dozen messages.
 */
export const DEFAULT_OFFERED_LOAD = 0.5;

const percentile = (sorted: readonly number[], p: number): number | null => percentileOfSorted(sorted, p) ?? null;

export class DemoTraffic {
  readonly clients: LoopixClient[] = [];
  /** One per client with `directory`. */
  readonly followers: DirectoryFollower[] = [];
  /** Clients that stopped because their document expired, with the reason. */
  readonly expired = new Map<number, string>();
  private readonly expected = new Map<string, Expected>();
  private readonly latencies: number[] = [];
  private sending = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private sizeCycle = 0;
  /** performance.now() of every send(), in order (for "delivered among those sent after t"). */
  private readonly sendTimes: number[] = [];
  /** Wall-clock ms of every packet the probe client emitted (all three streams), in order. */
  readonly probeSends: number[] = [];
  sentMessages = 0;
  deliveredMessages = 0;
  deliveredIntact = 0;
  deliveredCorrupt = 0;
  deliveredUnknown = 0;

  /** With postOffice: each client's anonymous address (what the others send to). */
  private readonly mailboxes: string[] = [];
  /** Largest message that travels in one fragment (framing with SURB-acks), bytes. */
  private readonly packetWorth: number;
  /** λP slots one demo message takes on average, its acknowledgements included. */
  readonly slotsPerMessage: number;
  /** Mean seconds between two messages of one client (given, or derived from DEFAULT_OFFERED_LOAD). */
  readonly messageIntervalS: number;
  /** Fraction of the λP slots the demo messages fill: slotsPerMessage / (messageIntervalS · λP). */
  readonly offeredLoad: number;

  constructor(private readonly o: TrafficOptions) {
    const params = NetworkParamsSchema.parse(o.params);
    const providers = o.topology.providers;
    for (let i = 0; i < o.clients; i++) {
      const { publicKey, privateKey } = writeKeyFile(join(o.dir, `client-${i}.key.json`), o.backend);
      const provider = providers[i % providers.length]!;
      this.clients.push(
        createNodeClient({
          config: { providerId: provider.id, params },
          keyPair: { publicKey: Buffer.from(publicKey, 'hex'), privateKey },
          topology: o.topology,
          backend: o.backend,
          ...(o.probeClient && i === 0 ? { onPacketSent: () => this.recordProbeSend() } : {}),
        }),
      );
      if (o.directory) {
        const client = this.clients[i]!;
        this.followers.push(
          new DirectoryFollower({
            fetcher: new DirectoryFetcher(o.directory),
            cacheFile: join(o.dir, `client-${i}.topology.json`),
            current: o.topology,
            onAdopt: (index) => client.setTopology(index),
            onExpired: (reason) => {
              this.expired.set(i, reason);
              client.stopStreams();
              o.log?.(`testnet: client ${i} stopped sending: ${reason}`);
            },
            log: { info: () => undefined, warn: () => undefined, error: () => undefined },
          }),
        );
      }
    }
    this.packetWorth = this.largestOneFragmentMessage();
    this.slotsPerMessage = this.meanSlotsPerMessage();
    this.messageIntervalS = o.messageIntervalS ?? this.slotsPerMessage / (DEFAULT_OFFERED_LOAD * params.lambdaP);
    this.offeredLoad = this.slotsPerMessage / (this.messageIntervalS * params.lambdaP);
  }

  /** Binary search over sizes: the largest message the first client sends as one fragment. */
  private largestOneFragmentMessage(): number {
    const c = this.clients[0];
    if (!c) return 1;
    let lo = 1;
    let hi = this.o.topology.geometry.contentBytes;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (c.fragmentsFor(mid) <= 1) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * λP slots per demo message, averaged over the size cycle (the random size by its mean over 16 evenly
   * spaced sizes): its fragments at the sender and, with SURB-acks, as many acks at the recipient. A message
   * to a mailbox is one push; its acknowledgement comes from the post office, not from a client's stream.
   */
  private meanSlotsPerMessage(): number {
    const c = this.clients[0];
    if (!c) return 1;
    if (this.o.postOffice) return 1;
    const ackFactor = supportsSurbAcks(this.o.topology.geometry) ? 2 : 1;
    const w = this.packetWorth;
    const randomSizes = Array.from({ length: 16 }, (_, k) => 1 + Math.floor(((k + 0.5) / 16) * 2 * w));
    const randomMean = randomSizes.reduce((a, size) => a + c.fragmentsFor(size), 0) / randomSizes.length;
    const cycle = [c.fragmentsFor(1), c.fragmentsFor(w), c.fragmentsFor(4 * w), randomMean];
    return (ackFactor * cycle.reduce((a, b) => a + b, 0)) / cycle.length;
  }

  async start(connectTimeoutMs = 30_000): Promise<void> {
    if (this.o.postOffice) for (const c of this.clients) this.mailboxes.push(c.openMailbox());
    for (const c of this.clients) c.start();
    for (const f of this.followers) f.start();
    await Promise.all(this.clients.map((c) => c.waitConnected(connectTimeoutMs)));
    this.clients.forEach((c, i) => void this.receiveLoop(c, i));
  }

  startSending(): void {
    this.sending = true;
    this.clients.forEach((_, i) => {
      if (!(this.o.probeClient && i === 0)) this.scheduleNext(i);
    });
  }

  stopSending(): void {
    this.sending = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Every message sent has arrived (intact or not), every fragment's acknowledgement is back at its sender
   * and no client has anything left to send. Until then the λP streams must run: an ack is sent in a λP slot
   * of the recipient, and a fragment whose ack does not come is sent again.
   */
  get drained(): boolean {
    return (
      this.deliveredMessages >= this.sentMessages &&
      this.clients.every((c) => {
        const s = c.stats();
        return s.send_buffer === 0 && s.unacked_fragments === 0;
      })
    );
  }

  private nextSize(): number {
    // A message to a mailbox is one envelope (docs/packet-format.md §15).
    if (this.o.postOffice) return 1 + randomInt(poLayout(this.o.topology.geometry).messageCapacity);
    const w = this.packetWorth;
    const sizes = [1, w, 4 * w, 1 + randomInt(2 * w)];
    return sizes[this.sizeCycle++ % sizes.length]!;
  }

  private scheduleNext(from: number): void {
    if (!this.sending) return;
    const waitMs = -Math.log(1 - Math.random()) * this.messageIntervalS * 1000;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.sending) return;
      void this.sendOne(from);
      this.scheduleNext(from);
    }, waitMs);
    this.timers.add(timer);
  }

  private recordProbeSend(): void {
    if (this.probeSends.length < PROBE_SENDS_MAX) this.probeSends.push(performance.timeOrigin + performance.now());
  }

  /**
   * Queues `packets` one-packet messages at the probe client (to random other clients), all at once: from now
   * on its λP stream carries real fragments instead of drop cover until they are gone. Resolves once queued.
   */
  async queueProbeBacklog(packets: number): Promise<void> {
    for (let k = 0; k < packets; k++) await this.sendOne(0, this.packetWorth);
  }

  private async sendOne(from: number, size = this.nextSize()): Promise<void> {
    const others = this.clients.length - 1;
    const to = others === 0 ? from : (from + 1 + randomInt(others)) % this.clients.length;
    const bytes = randomBytes(size);
    const sentAt = performance.now();
    this.sentMessages++;
    this.sendTimes.push(sentAt);
    // send() resolves when the recipient has acknowledged every fragment; the traffic generator only needs the
    // id (delivery is checked at the recipient), and a send still pending when the run stops is not an error.
    const pending = this.clients[from]!.send(
      this.o.postOffice ? this.mailboxes[to]! : this.clients[to]!.address,
      bytes,
    );
    pending.catch(() => {});
    this.expected.set(pending.messageId, { bytes, to, from, sentAt });
  }

  private async receiveLoop(client: LoopixClient, index: number): Promise<void> {
    for await (const m of client.messages()) {
      this.deliveredMessages++;
      const want = this.expected.get(m.messageId);
      if (!want) this.deliveredUnknown++;
      else if (want.to === index && Buffer.from(m.bytes).equals(want.bytes)) this.deliveredIntact++;
      else this.deliveredCorrupt++;
      this.expected.delete(m.messageId);
      this.latencies.push(m.latencyMs);
    }
  }

  /** Messages sent and not delivered, oldest first. */
  undelivered(): Undelivered[] {
    return [...this.expected.values()]
      .map((e) => ({ from: e.from, to: e.to, bytes: e.bytes.length, sentAt: e.sentAt }))
      .sort((a, b) => a.sentAt - b.sentAt);
  }

  /** Messages whose send() came at or after `t` (performance.now()), and how many of those were delivered. */
  sentSince(t: number): { sent: number; delivered: number } {
    const sent = this.sendTimes.filter((s) => s >= t).length;
    const missing = [...this.expected.values()].filter((e) => e.sentAt >= t).length;
    return { sent, delivered: sent - missing };
  }

  latency(): { p50: number | null; p99: number | null; mean: number | null; count: number } {
    const s = [...this.latencies].sort((a, b) => a - b);
    const r = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
    return {
      p50: r(percentile(s, 0.5)),
      p99: r(percentile(s, 0.99)),
      mean: r(s.length ? s.reduce((a, b) => a + b, 0) / s.length : null),
      count: s.length,
    };
  }

  async stop(): Promise<void> {
    this.stopSending();
    for (const f of this.followers) f.stop();
    await Promise.all(this.clients.map((c) => c.stop()));
  }
}
