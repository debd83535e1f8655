/**
 * The loopix client SDK (Loopix §3.2, docs/pipeline.md "The client").
 *
 * Sending: `send()` fragments a message into packet contents and appends them to a FIFO buffer. Three
 * independent Poisson streams emit packets: at λP the payload-or-drop stream pops the buffer (a real message
 * fragment) or, when it is empty, sends a drop cover packet; at λL a loop to the client itself; at λD a drop
 * to a random provider. Real traffic replaces cover traffic, so the client's packet rate is λP + λL + λD
 * whether or not it has anything to say. Every packet gets a fresh random path and fresh Exp(µ) delays.
 *
 * Receiving: the transport pulls `pullK` packets every `pullIntervalMs`; each is unwrapped with the client's
 * private key: FINAL → fragment reassembly → `messages()`; LOOP with a loop id we sent → round-trip time;
 * anything that fails (the provider's dummies fail the MAC) → counted and discarded.
 *
 * This module is runtime-neutral: no Node-only module. The crypto backend, the transport (WebSocket session),
 * the clock and timers are injected; src/client/node.ts wires the Node defaults (native addon, `ws`, files).
 *
 * While the provider is unreachable the streams keep their schedule but emit nothing (`skipped_offline`) and
 * the buffer keeps its fragments; the connection reconnects by itself.
 */
import { formatAddress, parseAddress, type RecipientAddress } from '../address.js';
import type { ClientConfig, NetworkParams } from '../config/schema.js';
import { LoopixError } from '../errors.js';
import type { Geometry } from '../geometry.js';
import type { LoopAttribution } from '../loops/monitor.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/document.js';
import { bytesToHex } from './bytes.js';
import { silentLog, type BackoffOptions, type ClientTransport, type LogLike } from './connection.js';
import { fragmentCount, fragmentMessage, Reassembler, type ReassemblerOptions } from './fragments.js';
import { Inbox } from './inbox.js';
import { checkKeyPair, type KeyPair } from './keys.js';
import { LoopTracker } from './loop-tracker.js';
import { dropRoute, loopRoute, messageRoute, toAddress, type Route } from './routes.js';
import { SendQueue } from './send-queue.js';
import { newCounters, Samples, type ClientStats } from './stats.js';
import { cryptoUniform, PoissonStream, systemScheduler, type RandomSource, type Scheduler } from './streams.js';

export type { KeyPair } from './keys.js';
export type { ClientStats, Percentiles } from './stats.js';

export interface ReceivedMessage {
  /** Never set: a recipient does not learn who sent a message (unless the content says). */
  readonly from?: never;
  /** Hex of the sender-chosen 16-byte message id. */
  readonly messageId: string;
  readonly bytes: Uint8Array;
  /** Recipient's wall clock at reassembly minus the sender's at send() (clamped at 0). */
  readonly latencyMs: number;
  /** Sender's wall clock at send(), ms since 1970. */
  readonly sentAtMs: number;
}

/** What a transport reports back to the client. */
export interface TransportHandlers {
  readonly onPackets: (packets: Uint8Array[]) => void | Promise<void>;
  readonly onConnected?: () => void;
  readonly onDisconnected?: (reason: string) => void;
}

/** What a transport factory is told about the session it is to open. */
export interface TransportContext {
  readonly geometry: Geometry;
  /** The provider's topology entry. */
  readonly provider: { readonly id: string; readonly ws?: string | undefined };
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
  readonly backend: SphinxBackend;
  readonly params: NetworkParams;
  readonly scheduler: Scheduler;
  readonly random: RandomSource;
  readonly log: LogLike;
}

export type TransportFactory = (handlers: TransportHandlers, context: TransportContext) => ClientTransport;

export interface LoopixClientOptions {
  /** A parsed ClientConfig (only providerId and params are used; keyFile/topologyFile are not read). */
  readonly config: Pick<ClientConfig, 'providerId' | 'params'>;
  readonly keyPair: KeyPair;
  readonly topology: TopologyIndex;
  /** The Sphinx implementation (native addon in Node, the TypeScript twin elsewhere). */
  readonly backend: SphinxBackend;
  /** Opens the provider session (Node: the WebSocket ProviderConnection, see src/client/node.ts). */
  readonly transport: TransportFactory;
  readonly log?: LogLike;
  /** Monotonic clock and timers for the streams, pulls, reconnects and loop RTTs (default: real time). */
  readonly scheduler?: Scheduler;
  /** Uniform (0, 1] source for the streams, paths and delays (default: CSPRNG). */
  readonly random?: RandomSource;
  /** Wall clock in ms for message send stamps, key epochs and latency (default Date.now). */
  readonly wallClock?: () => number;
  readonly backoff?: BackoffOptions;
  readonly reassembly?: Omit<ReassemblerOptions, 'maxMessageBytes' | 'now'>;
  /** Received messages kept for the application before the oldest is dropped (default 10 000). */
  readonly maxQueuedMessages?: number;
  /** A loop not back after this long is counted lost (default 10 min). */
  readonly loopTimeoutMs?: number;
  /** Loop round-trip samples kept for percentiles (default 10 000, most recent). */
  readonly rttSampleLimit?: number;
  /**
   * Called right after each packet (any stream) is handed to the transport: the client's observable send
   * times, for the sender-unobservability check of `loopix testnet --check-mixing` (Loopix §4.1.2).
   */
  readonly onPacketSent?: () => void;
  /** Called when the client stops (src/client/node.ts stops its topology file watch here). */
  readonly onStop?: () => void;
}

interface QueuedFragment {
  readonly recipient: RecipientAddress;
  readonly messageId: Uint8Array;
  readonly content: Uint8Array;
}

const DUMMY_REASONS = new Set(['mac', 'version']);

export class LoopixClient {
  readonly geometry: Geometry;
  /** The topology in use; replaced by setTopology() when the directory publishes the next epoch's document. */
  topology: TopologyIndex;
  readonly publicKey: Uint8Array;
  readonly providerId: string;
  readonly params: NetworkParams;
  /** loopix1:<provider id>:<public key>: what senders pass to send(). */
  readonly address: string;
  readonly transport: ClientTransport;
  private readonly privateKey: Uint8Array;
  private readonly backend: SphinxBackend;
  private readonly log: LogLike;
  private readonly scheduler: Scheduler;
  private readonly random: RandomSource;
  private readonly wallClock: () => number;
  private readonly reassembler: Reassembler;
  private readonly streams: { payload: PoissonStream; loop: PoissonStream; drop: PoissonStream };
  private readonly buffer = new SendQueue<QueuedFragment>();
  private readonly inbox: Inbox<ReceivedMessage>;
  private readonly loops: LoopTracker;
  private readonly onPacketSent: (() => void) | undefined;
  private readonly onStop: (() => void) | undefined;
  private readonly latency: Samples;
  private running = false;
  private stopped = false;
  private readonly counters = newCounters();
  private readonly skipped = { payload: 0, loop: 0, drop: 0 };
  private readonly invalid: Record<string, number> = {};

  constructor(o: LoopixClientOptions) {
    const g = o.topology.geometry;
    this.geometry = g;
    this.topology = o.topology;
    this.params = o.config.params;
    this.providerId = o.config.providerId;
    const provider = o.topology.node(this.providerId);
    if (!provider || provider.role !== 'provider') {
      throw new LoopixError('ERR_LOOPIX_CLIENT_PROVIDER', `config.providerId ${this.providerId} is not a provider in the topology`, { field: 'config.providerId' });
    }
    this.backend = o.backend;
    const keys = checkKeyPair(g, (s) => this.backend.x25519Base(s), o.keyPair);
    this.privateKey = keys.privateKey;
    this.publicKey = keys.publicKey;
    this.address = formatAddress({ providerId: this.providerId, publicKey: this.publicKey });
    this.log = o.log ?? silentLog;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? cryptoUniform;
    this.wallClock = o.wallClock ?? Date.now;
    this.onPacketSent = o.onPacketSent;
    this.onStop = o.onStop;
    this.inbox = new Inbox(o.maxQueuedMessages ?? 10_000);
    this.loops = new LoopTracker({
      now: () => this.scheduler.now(),
      timeoutMs: o.loopTimeoutMs ?? 600_000,
      sampleLimit: o.rttSampleLimit ?? 10_000,
      pullIntervalMs: this.params.pullIntervalMs,
    });
    this.latency = new Samples(o.rttSampleLimit ?? 10_000);
    this.reassembler = new Reassembler(g, { ...o.reassembly, maxMessageBytes: this.params.maxMessageBytes, now: () => this.scheduler.now() });

    const handlers: TransportHandlers = {
      onPackets: (packets) => this.receive(packets),
      onConnected: () => this.log.info({ address: this.address }, 'client connected'),
      onDisconnected: (reason) => this.log.info({ reason }, 'client disconnected'),
    };
    this.transport = o.transport(handlers, {
      geometry: g,
      provider,
      publicKey: this.publicKey,
      privateKey: this.privateKey,
      backend: this.backend,
      params: this.params,
      scheduler: this.scheduler,
      random: this.random,
      log: this.log,
    });

    const stream = (name: string, rate: number, onEvent: () => void) =>
      new PoissonStream({
        name,
        rate,
        onEvent,
        scheduler: this.scheduler,
        random: this.random,
        onError: (err) => {
          this.counters.build_errors++;
          this.log.error({ stream: name, err: err instanceof Error ? err.message : String(err) }, 'stream event failed');
        },
      });
    this.streams = {
      payload: stream('payload', this.params.lambdaP, () => this.onPayloadEvent()),
      loop: stream('loop', this.params.lambdaL, () => this.onLoopEvent()),
      drop: stream('drop', this.params.lambdaD, () => this.onDropEvent()),
    };
  }

  get connected(): boolean {
    return this.transport.connected;
  }

  /** Starts the three streams and the provider session. */
  start(): void {
    if (this.running) return;
    if (this.stopped) throw new LoopixError('ERR_LOOPIX_CLIENT_STOPPED', 'a stopped client cannot be restarted; create a new one');
    this.running = true;
    this.transport.start();
    this.streams.payload.start();
    this.streams.loop.start();
    this.streams.drop.start();
  }

  /** Resolves once the provider session is authenticated (transports that can wait, e.g. the WebSocket one). */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    const t = this.transport as Partial<{ waitConnected(ms: number): Promise<void> }>;
    if (typeof t.waitConnected === 'function') return t.waitConnected.call(this.transport, timeoutMs);
    return this.transport.connected ? Promise.resolve() : Promise.reject(new LoopixError('ERR_LOOPIX_CLIENT_TRANSPORT', 'transport cannot wait for a connection'));
  }

  /**
   * Stops the three Poisson streams but keeps the session and the pulls, so what is in flight can still
   * arrive (the testnet's drain phase). Fragments still in the send buffer stay there: call it after
   * flushed(). Not for normal operation: a client that stops its cover traffic becomes observable.
   */
  stopStreams(): void {
    this.streams.payload.stop();
    this.streams.loop.stop();
    this.streams.drop.stop();
  }

  /** Stops sending and pulling, closes the session and ends every messages() iterator. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.onStop?.();
    this.stopStreams();
    await this.transport.stop();
    this.inbox.close();
    this.buffer.release();
  }

  /**
   * Queues `bytes` for `recipient` (an address string or a parsed address): fragments go into the FIFO buffer
   * and leave at the λP stream's pace. Resolves, once queued, with the message id (hex). Throws a RangeError
   * naming `bytes` when it exceeds params.maxMessageBytes, or `recipient` when it is malformed or its provider
   * is not in the topology.
   */
  async send(recipient: string | RecipientAddress, bytes: Uint8Array): Promise<string> {
    const to = this.parseRecipient(recipient);
    const { messageId, contents } = fragmentMessage(this.geometry, bytes, { maxMessageBytes: this.params.maxMessageBytes, sentAtMs: this.wallClock() });
    for (const content of contents) this.buffer.push({ recipient: to, messageId, content });
    return bytesToHex(messageId);
  }

  private parseRecipient(recipient: string | RecipientAddress): RecipientAddress {
    const to = typeof recipient === 'string' ? parseAddress(this.geometry, recipient) : recipient;
    if (!to || typeof to.providerId !== 'string' || !(to.publicKey instanceof Uint8Array) || to.publicKey.length !== this.geometry.publicKeyBytes) {
      throw new LoopixError('ERR_LOOPIX_CLIENT_RECIPIENT', 'recipient must be a loopix1: address or {providerId, publicKey (32 bytes)}', { field: 'recipient' });
    }
    const node = this.topology.node(to.providerId);
    if (!node || node.role !== 'provider') {
      throw new LoopixError('ERR_LOOPIX_CLIENT_RECIPIENT', `recipient provider ${to.providerId} is not a provider in the topology`, { field: 'recipient' });
    }
    return { providerId: to.providerId, publicKey: Uint8Array.from(to.publicKey) };
  }

  /** Packets a message of `size` bytes occupies. */
  fragmentsFor(size: number): number {
    return fragmentCount(this.geometry, size);
  }

  /** Resolves when the FIFO send buffer is empty (every queued fragment handed to the provider). */
  flushed(timeoutMs?: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.buffer.flushed(timeoutMs);
  }

  /** Received messages, in completion order. Several iterators share one queue; stop() ends them all. */
  messages(): AsyncIterable<ReceivedMessage> {
    return this.inbox.iterable();
  }

  /** The retained loop round-trip samples (ms). */
  loopRttSamples(): number[] {
    return this.loops.rttSamples();
  }

  /** Own loops per node on their paths: due and returned, in the last 60 s and since start. */
  loopPathCounts(): LoopAttribution {
    return this.loops.attribution();
  }

  stats(): ClientStats {
    this.loops.expire();
    const conn = (this.transport as Partial<{ stats: object }>).stats;
    return {
      ...this.counters,
      address: this.address,
      connected: this.transport.connected,
      loops_sent: this.loops.sent,
      loops_returned: this.loops.returned,
      loops_outstanding: this.loops.outstanding,
      loops_lost: this.loops.lost,
      loop_rtt_ms: this.loops.rttSummary(),
      skipped_offline: { ...this.skipped },
      send_buffer: this.buffer.length,
      unacked_fragments: 0,
      messages_queued: this.inbox.length,
      message_latency_ms: this.latency.summary(),
      invalid_received: { ...this.invalid },
      reassembly: { incomplete: this.reassembler.incomplete, incomplete_bytes: this.reassembler.incompleteBytes, discarded: this.reassembler.discarded },
      messages_dropped_backlog: this.inbox.dropped,
      ...(conn ? { connection: JSON.parse(JSON.stringify(conn)) as ClientStats['connection'] } : {}),
    };
  }

  /**
   * Adopts a newer topology document (key rotation: each epoch's document carries that epoch's and the next
   * epoch's keys, so a client that fetches once per epoch always has the keys it needs). Only a document
   * of the same network (geometry, own provider) and not older than the current one is accepted.
   */
  setTopology(next: TopologyIndex): void {
    if (next.doc.epoch < this.topology.doc.epoch) throw new LoopixError('ERR_LOOPIX_CLIENT_TOPOLOGY', `topology epoch ${next.doc.epoch} is older than the current ${this.topology.doc.epoch}`, { field: 'epoch' });
    const g = next.geometry;
    if (g.packetBytes !== this.geometry.packetBytes || g.maxHops !== this.geometry.maxHops) throw new LoopixError('ERR_LOOPIX_CLIENT_TOPOLOGY', 'topology geometry differs from the current one', { field: 'geometry' });
    if (next.node(this.providerId)?.role !== 'provider') throw new LoopixError('ERR_LOOPIX_CLIENT_TOPOLOGY', `provider ${this.providerId} is not in the new topology`, { field: 'nodes' });
    this.topology = next;
  }

  // --- sending ----------------------------------------------------------------------------------------------

  private routeOptions() {
    return { mu: this.params.mu, random: this.random, nowMs: this.wallClock() };
  }

  private build(route: Route, content: Uint8Array): Uint8Array {
    const spec = { epoch: route.epoch, hops: route.hops, content };
    try {
      return this.backend.createPacket(this.geometry, spec);
    } catch (err) {
      // Creation fails with probability ~2^-125 (an unliftable scalar); a fresh seed fixes it.
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'packet creation failed; retrying with a new seed');
      return this.backend.createPacket(this.geometry, spec);
    }
  }

  /** Every packet leaves through here: hands it to the transport and tells onPacketSent when it went. */
  private submitPacket(packet: Uint8Array): boolean {
    const ok = this.transport.submit(packet);
    if (ok) this.onPacketSent?.();
    return ok;
  }

  private coverContent(): Uint8Array {
    return new Uint8Array(this.geometry.contentBytes);
  }

  private sendDrop(): boolean {
    const packet = this.build(dropRoute(this.topology, this.providerId, this.routeOptions()), this.coverContent());
    return this.submitPacket(packet);
  }

  /** λP: the next buffered fragment, or a drop when the buffer is empty. */
  private onPayloadEvent(): void {
    if (!this.transport.connected) {
      this.skipped.payload++;
      return;
    }
    const item = this.buffer.shift();
    if (!item) {
      if (this.sendDrop()) this.counters.sent_drop_cover++;
      else this.skipped.payload++;
      return;
    }
    let packet: Uint8Array;
    try {
      packet = this.build(messageRoute(this.topology, this.providerId, item.recipient, toAddress(this.geometry, item.messageId), this.routeOptions()), item.content);
    } catch (err) {
      this.buffer.unshift(item);
      throw err;
    }
    if (this.submitPacket(packet)) this.counters.sent_real++;
    else {
      this.buffer.unshift(item);
      this.skipped.payload++;
    }
  }

  /** λL: a loop through the network back to ourselves. */
  private onLoopEvent(): void {
    if (!this.transport.connected) {
      this.skipped.loop++;
      return;
    }
    const loopId = crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes));
    const route = loopRoute(this.topology, this.providerId, this.publicKey, loopId, this.routeOptions());
    const packet = this.build(route, this.coverContent());
    if (this.submitPacket(packet)) this.loops.onSent(loopId, route);
    else this.skipped.loop++;
  }

  /** λD: a drop cover packet to a random provider. */
  private onDropEvent(): void {
    if (!this.transport.connected) {
      this.skipped.drop++;
      return;
    }
    if (this.sendDrop()) this.counters.drops_sent++;
    else this.skipped.drop++;
  }

  // --- receiving --------------------------------------------------------------------------------------------

  private countInvalid(reason: string): void {
    this.invalid[reason] = (this.invalid[reason] ?? 0) + 1;
  }

  /** Unwraps pulled packets (in place) with our private key and acts on each. */
  receive(packets: readonly Uint8Array[]): void {
    for (const packet of packets) {
      this.counters.packets_received++;
      const r = this.backend.unwrap(this.geometry, this.privateKey, packet);
      switch (r.kind) {
        case 'final': {
          this.counters.fragments_received++;
          const added = this.reassembler.add(r.content);
          if (added.status === 'complete') this.deliver(added.message.messageId, added.message.bytes, added.message.sentAtMs);
          else if (added.status === 'duplicate') this.counters.duplicates_ignored++;
          else if (added.status === 'invalid') this.countInvalid(`fragment_${added.reason}`);
          break;
        }
        case 'loop':
          if (this.loops.onReturn(r.id) === 'unknown') this.countInvalid('unknown_loop');
          break;
        case 'invalid':
          if (DUMMY_REASONS.has(r.reason)) this.counters.dummies_discarded++;
          else this.countInvalid(r.reason);
          break;
        default:
          this.countInvalid(`unexpected_${r.kind}`);
      }
    }
  }

  private deliver(messageId: string, bytes: Uint8Array, sentAtMs: number): void {
    const latencyMs = Math.max(0, this.wallClock() - sentAtMs);
    this.counters.received_real++;
    this.latency.add(latencyMs);
    this.inbox.push({ messageId, bytes, latencyMs, sentAtMs });
  }
}
