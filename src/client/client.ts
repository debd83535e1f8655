/**
 * The loopix client SDK (Loopix §3.2, docs/pipeline.md "The client").
 *
 * Sending: `send()` fragments a message into packet contents and appends them to a FIFO buffer. Three
 * independent Poisson streams emit packets: at λP the payload-or-drop stream pops the buffer (a real message
 * fragment) or, when it is empty, sends a drop cover packet; at λL a loop to the client itself; at λD a drop
 * to a random provider. Real traffic replaces cover traffic, so the client's packet rate is λP + λL + λD
 * whether or not it has anything to say. Every packet gets a fresh random path and fresh Exp(µ) delays.
 *
 * Receiving: the connection pulls `pullK` packets every `pullIntervalMs`; each is unwrapped with the client's
 * private key: FINAL → fragment reassembly → `messages()`; LOOP with a loop id we sent → round-trip time;
 * anything that fails (the provider's dummies fail the MAC) → counted and discarded.
 *
 * While the provider is unreachable the streams keep their schedule but emit nothing (`skipped_offline`) and
 * the buffer keeps its fragments; the connection reconnects by itself.
 */
import { dirname, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { formatAddress, parseAddress, type RecipientAddress } from '../address.js';
import { ClientConfigSchema, loadConfigFile, type ClientConfig, type NetworkParams } from '../config/schema.js';
import type { Geometry } from '../geometry.js';
import { createLogger } from '../log.js';
import { loadSphinx } from '../sphinx/loader.js';
import type { SphinxBackend } from '../sphinx/types.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import { TopologyWatch } from './topology-watch.js';
import { trustOf } from '../directory/config.js';
import { clientFollower } from '../directory/client-setup.js';
import { ProviderConnection, silentLog, type BackoffOptions, type ClientTransport, type ConnectionStats, type LogLike } from './connection.js';
import { fragmentCount, fragmentMessage, Reassembler, type ReassemblerOptions } from './fragments.js';
import { dropRoute, loopRoute, messageRoute, toAddress, type Route } from './routes.js';
import { LOOP_MARGIN_BASE_MS, LOOP_MARGIN_PER_HOP_MS, LoopMonitor, type LoopAttribution } from '../node/loops.js';
import { cryptoUniform, PoissonStream, systemScheduler, type RandomSource, type Scheduler } from './streams.js';

export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

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

export interface LoopixClientOptions {
  /** A parsed ClientConfig (only providerId and params are used; keyFile/topologyFile are not read). */
  readonly config: Pick<ClientConfig, 'providerId' | 'params'>;
  readonly keyPair: KeyPair;
  readonly topology: TopologyIndex;
  /** Default: loadSphinx().backend. */
  readonly backend?: SphinxBackend;
  readonly log?: LogLike;
  /** Monotonic clock and timers for the streams, pulls, reconnects and loop RTTs (default: real time). */
  readonly scheduler?: Scheduler;
  /** Uniform (0, 1] source for the streams, paths and delays (default: CSPRNG). */
  readonly random?: RandomSource;
  /** Wall clock in ms for message send stamps and latency (default Date.now). */
  readonly wallClock?: () => number;
  /** Replaces the WebSocket session (tests, simulations). */
  readonly transport?: (handlers: TransportHandlers) => ClientTransport;
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
}

interface QueuedFragment {
  readonly recipient: RecipientAddress;
  readonly messageId: Uint8Array;
  readonly content: Uint8Array;
}

export interface Percentiles {
  count: number;
  mean: number | null;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface ClientStats {
  address: string;
  connected: boolean;
  /** Real message fragments sent (λP stream, buffer non-empty). */
  sent_real: number;
  /** Drop cover sent by the λP stream because the buffer was empty. */
  sent_drop_cover: number;
  loops_sent: number;
  loops_returned: number;
  loops_outstanding: number;
  /** Loops not back within loopTimeoutMs. */
  loops_lost: number;
  loop_rtt_ms: Percentiles;
  /** Drop cover of the λD stream. */
  drops_sent: number;
  /** Stream events that found the provider unreachable and sent nothing. */
  skipped_offline: { payload: number; loop: number; drop: number };
  /** Packets that could not be built (should stay 0). */
  build_errors: number;
  /** Fragments waiting in the FIFO buffer. */
  send_buffer: number;
  messages_queued: number;
  packets_received: number;
  fragments_received: number;
  /** Complete messages delivered to the application. */
  received_real: number;
  message_latency_ms: Percentiles;
  duplicates_ignored: number;
  /** Pulled packets that fail the MAC or version check: the provider's dummies (and corrupted packets). */
  dummies_discarded: number;
  /** Everything else that was not usable, by reason (unwrap reasons, unknown_loop, fragment_*, unexpected_*). */
  invalid_received: Record<string, number>;
  reassembly: { incomplete: number; incomplete_bytes: number; discarded: number };
  /** Received messages dropped because the application did not consume them. */
  messages_dropped_backlog: number;
  connection?: ConnectionStats;
}

class Samples {
  private readonly buf: number[] = [];
  private at = 0;
  count = 0;
  constructor(private readonly limit: number) {}
  add(v: number): void {
    this.count++;
    if (this.buf.length < this.limit) this.buf.push(v);
    else {
      this.buf[this.at] = v;
      this.at = (this.at + 1) % this.limit;
    }
  }
  values(): number[] {
    return this.buf.slice();
  }
  summary(): Percentiles {
    const s = this.buf.slice().sort((a, b) => a - b);
    if (s.length === 0) return { count: this.count, mean: null, min: null, p50: null, p90: null, p99: null, max: null };
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
    const r = (x: number) => Math.round(x * 1000) / 1000;
    return { count: this.count, mean: r(s.reduce((a, b) => a + b, 0) / s.length), min: r(s[0]!), p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s[s.length - 1]!) };
  }
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
  private readonly buffer: QueuedFragment[] = [];
  private readonly received: ReceivedMessage[] = [];
  private readonly receiveWaiters: Array<(r: IteratorResult<ReceivedMessage>) => void> = [];
  private readonly flushWaiters: Array<() => void> = [];
  private readonly loops = new Map<string, number>();
  /**
   * Loop attribution (src/node/loops.ts): due/returned loops per node on their paths, so a testnet or an
   * operator can tell which node the lost loops went through. Only the counts are used (threshold 0: no
   * alarm); the 60 s window bounds how long a due loop is remembered for a late return.
   */
  private readonly loopPaths = new LoopMonitor(60_000, 0);
  private loopPathsEvaluatedAt = -Infinity;
  private readonly loopTimeoutMs: number;
  private readonly onPacketSent: (() => void) | undefined;
  private readonly maxQueuedMessages: number;
  private readonly rtt: Samples;
  private readonly latency: Samples;
  private running = false;
  private stopped = false;
  private readonly counters = {
    sent_real: 0,
    sent_drop_cover: 0,
    loops_sent: 0,
    loops_returned: 0,
    loops_lost: 0,
    drops_sent: 0,
    build_errors: 0,
    packets_received: 0,
    fragments_received: 0,
    received_real: 0,
    duplicates_ignored: 0,
    dummies_discarded: 0,
    messages_dropped_backlog: 0,
  };
  private readonly skipped = { payload: 0, loop: 0, drop: 0 };
  private readonly invalid: Record<string, number> = {};

  constructor(o: LoopixClientOptions) {
    const g = o.topology.geometry;
    this.geometry = g;
    this.topology = o.topology;
    this.params = o.config.params;
    this.providerId = o.config.providerId;
    const provider = o.topology.node(this.providerId);
    if (!provider || provider.role !== 'provider') throw new RangeError(`config.providerId ${this.providerId} is not a provider in the topology`);
    if (!provider.ws) throw new RangeError(`provider ${this.providerId} has no ws URL in the topology`);
    this.backend = o.backend ?? loadSphinx().backend;
    if (o.keyPair.privateKey.length !== g.privateKeyBytes) throw new RangeError(`keyPair.privateKey must be ${g.privateKeyBytes} bytes, got ${o.keyPair.privateKey.length}`);
    if (o.keyPair.publicKey.length !== g.publicKeyBytes) throw new RangeError(`keyPair.publicKey must be ${g.publicKeyBytes} bytes, got ${o.keyPair.publicKey.length}`);
    if (!Buffer.from(this.backend.x25519Base(o.keyPair.privateKey)).equals(o.keyPair.publicKey)) {
      throw new RangeError('keyPair.publicKey does not belong to keyPair.privateKey');
    }
    this.privateKey = Uint8Array.from(o.keyPair.privateKey);
    this.publicKey = Uint8Array.from(o.keyPair.publicKey);
    this.address = formatAddress({ providerId: this.providerId, publicKey: this.publicKey });
    this.log = o.log ?? silentLog;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? cryptoUniform;
    this.wallClock = o.wallClock ?? Date.now;
    this.loopTimeoutMs = o.loopTimeoutMs ?? 600_000;
    this.onPacketSent = o.onPacketSent;
    this.maxQueuedMessages = o.maxQueuedMessages ?? 10_000;
    this.rtt = new Samples(o.rttSampleLimit ?? 10_000);
    this.latency = new Samples(o.rttSampleLimit ?? 10_000);
    this.reassembler = new Reassembler(g, { ...o.reassembly, maxMessageBytes: this.params.maxMessageBytes, now: () => this.scheduler.now() });

    const handlers: TransportHandlers = {
      onPackets: (packets) => this.receive(packets),
      onConnected: () => this.log.info({ address: this.address }, 'client connected'),
      onDisconnected: (reason) => this.log.info({ reason }, 'client disconnected'),
    };
    this.transport =
      o.transport?.(handlers) ??
      new ProviderConnection({
        url: provider.ws,
        geometry: g,
        publicKey: this.publicKey,
        privateKey: this.privateKey,
        x25519: (s, p) => this.backend.x25519(s, p),
        pullIntervalMs: this.params.pullIntervalMs,
        pullK: this.params.pullK,
        ...handlers,
        backoff: o.backoff,
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

  /** Reads a client config file (keyFile and topologyFile relative to it), its key pair and its topology. */
  static fromConfigFile(file: string, options: Partial<Omit<LoopixClientOptions, 'config' | 'keyPair' | 'topology'>> = {}): LoopixClient {
    const config = loadConfigFile(ClientConfigSchema, file);
    const base = dirname(resolve(file));
    const backend = options.backend ?? loadSphinx().backend;
    const keyPair = readKeyPairFile(resolve(base, config.keyFile), backend);
    const topology = new TopologyIndex(loadTopologyFile(resolve(base, config.topologyFile), trustOf(config)));
    const log = options.log ?? createLogger('loopix-client', config.log.level);
    const client = new LoopixClient({ ...options, config, keyPair, topology, backend, log });
    // Follow the directory's per-epoch documents (rotating keys) for as long as the client runs: from the
    // authorities themselves (src/directory/client-setup.ts), or by re-reading a static signed file.
    if (config.directory) {
      client.topologyWatch = clientFollower({
        configDirectory: config.directory,
        cacheFile: resolve(base, config.topologyFile),
        current: topology,
        adopt: (index) => client.setTopology(index),
        stop: (reason) => {
          log.error({ reason }, 'no valid directory document: the streams stop');
          client.stopStreams();
        },
        log,
      });
      return client;
    }
    client.topologyWatch = new TopologyWatch({
      file: resolve(base, config.topologyFile),
      authorityPublicKey: trustOf(config),
      onUpdate: (index) => {
        if (index.doc.epoch > client.topology.doc.epoch || index.doc.issuedAt > client.topology.doc.issuedAt) client.setTopology(index);
      },
      onError: (message) => log.warn({ err: message }, 'topology file not adopted; keeping the current document'),
    });
    return client;
  }

  /** Re-reads the topology file while running (set by fromConfigFile). */
  private topologyWatch: { start(): void; stop(): void } | undefined;

  get connected(): boolean {
    return this.transport.connected;
  }

  /** Starts the three streams and the provider session. */
  start(): void {
    if (this.running) return;
    if (this.stopped) throw new Error('a stopped client cannot be restarted; create a new one');
    this.running = true;
    this.topologyWatch?.start();
    this.transport.start();
    this.streams.payload.start();
    this.streams.loop.start();
    this.streams.drop.start();
  }

  /** Resolves once the provider session is authenticated (WebSocket transport only). */
  waitConnected(timeoutMs = 30_000): Promise<void> {
    const t = this.transport as Partial<ProviderConnection>;
    if (typeof t.waitConnected === 'function') return t.waitConnected.call(this.transport, timeoutMs);
    return this.transport.connected ? Promise.resolve() : Promise.reject(new Error('transport cannot wait for a connection'));
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
    this.topologyWatch?.stop();
    this.streams.payload.stop();
    this.streams.loop.stop();
    this.streams.drop.stop();
    await this.transport.stop();
    for (const w of this.receiveWaiters.splice(0)) w({ done: true, value: undefined });
    for (const w of this.flushWaiters.splice(0)) w();
  }

  /**
   * Queues `bytes` for `recipient` (an address string or a parsed address): fragments go into the FIFO buffer
   * and leave at the λP stream's pace. Resolves, once queued, with the message id (hex). Throws a RangeError
   * naming `bytes` when it exceeds params.maxMessageBytes, or `recipient` when it is malformed or its provider
   * is not in the topology.
   */
  async send(recipient: string | RecipientAddress, bytes: Uint8Array): Promise<string> {
    const to = typeof recipient === 'string' ? parseAddress(this.geometry, recipient) : recipient;
    if (!to || typeof to.providerId !== 'string' || !(to.publicKey instanceof Uint8Array) || to.publicKey.length !== this.geometry.publicKeyBytes) {
      throw new RangeError('recipient must be a loopix1: address or {providerId, publicKey (32 bytes)}');
    }
    const node = this.topology.node(to.providerId);
    if (!node || node.role !== 'provider') throw new RangeError(`recipient provider ${to.providerId} is not a provider in the topology`);
    const { messageId, contents } = fragmentMessage(this.geometry, bytes, { maxMessageBytes: this.params.maxMessageBytes, sentAtMs: this.wallClock() });
    const recipientCopy: RecipientAddress = { providerId: to.providerId, publicKey: Uint8Array.from(to.publicKey) };
    for (const content of contents) this.buffer.push({ recipient: recipientCopy, messageId, content });
    return Buffer.from(messageId).toString('hex');
  }

  /** Packets a message of `size` bytes occupies. */
  fragmentsFor(size: number): number {
    return fragmentCount(this.geometry, size);
  }

  /** Resolves when the FIFO send buffer is empty (every queued fragment handed to the provider). */
  flushed(timeoutMs?: number): Promise<void> {
    if (this.buffer.length === 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = this.flushWaiters.indexOf(done);
          if (i >= 0) this.flushWaiters.splice(i, 1);
          reject(new Error(`send buffer not empty after ${timeoutMs} ms (${this.buffer.length} fragments left)`));
        }, timeoutMs);
      }
      this.flushWaiters.push(done);
    });
  }

  /** Received messages, in completion order. Several iterators share one queue; stop() ends them all. */
  messages(): AsyncIterable<ReceivedMessage> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<ReceivedMessage> => ({
        next: () => this.nextMessage(),
        return: async () => ({ done: true, value: undefined }),
      }),
    };
  }

  /** The retained loop round-trip samples (ms). */
  loopRttSamples(): number[] {
    return this.rtt.values();
  }

  stats(): ClientStats {
    this.expireLoops();
    const conn = (this.transport as Partial<ProviderConnection>).stats;
    return {
      address: this.address,
      connected: this.transport.connected,
      sent_real: this.counters.sent_real,
      sent_drop_cover: this.counters.sent_drop_cover,
      loops_sent: this.counters.loops_sent,
      loops_returned: this.counters.loops_returned,
      loops_outstanding: this.loops.size,
      loops_lost: this.counters.loops_lost,
      loop_rtt_ms: this.rtt.summary(),
      drops_sent: this.counters.drops_sent,
      skipped_offline: { ...this.skipped },
      build_errors: this.counters.build_errors,
      send_buffer: this.buffer.length,
      messages_queued: this.received.length,
      packets_received: this.counters.packets_received,
      fragments_received: this.counters.fragments_received,
      received_real: this.counters.received_real,
      message_latency_ms: this.latency.summary(),
      duplicates_ignored: this.counters.duplicates_ignored,
      dummies_discarded: this.counters.dummies_discarded,
      invalid_received: { ...this.invalid },
      reassembly: { incomplete: this.reassembler.incomplete, incomplete_bytes: this.reassembler.incompleteBytes, discarded: this.reassembler.discarded },
      messages_dropped_backlog: this.counters.messages_dropped_backlog,
      ...(conn ? { connection: JSON.parse(JSON.stringify(conn)) as ConnectionStats } : {}),
    };
  }

  // --- sending ----------------------------------------------------------------------------------------------

  private routeOptions() {
    return { mu: this.params.mu, random: this.random, nowMs: this.wallClock() };
  }

  /**
   * Adopts a newer topology document (key rotation: each epoch's document carries that epoch's and the next
   * epoch's keys, so a client that fetches once per epoch always has the keys it needs). Only a document
   * of the same network (geometry, own provider) and not older than the current one is accepted.
   */
  setTopology(next: TopologyIndex): void {
    if (next.doc.epoch < this.topology.doc.epoch) throw new RangeError(`topology epoch ${next.doc.epoch} is older than the current ${this.topology.doc.epoch}`);
    const g = next.geometry;
    if (g.packetBytes !== this.geometry.packetBytes || g.maxHops !== this.geometry.maxHops) throw new RangeError('topology geometry differs from the current one');
    if (next.node(this.providerId)?.role !== 'provider') throw new RangeError(`provider ${this.providerId} is not in the new topology`);
    this.topology = next;
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
    if (this.submitPacket(packet)) {
      this.counters.sent_real++;
      if (this.buffer.length === 0) for (const w of this.flushWaiters.splice(0)) w();
    } else {
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
    this.expireLoops();
    const loopId = new Uint8Array(this.geometry.addressBytes);
    crypto.getRandomValues(loopId);
    const route = loopRoute(this.topology, this.providerId, this.publicKey, loopId, this.routeOptions());
    const packet = this.build(route, this.coverContent());
    if (this.submitPacket(packet)) {
      this.loops.set(Buffer.from(loopId).toString('hex'), this.scheduler.now());
      this.counters.loops_sent++;
      this.recordLoopPath(loopId, route);
    } else this.skipped.loop++;
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

  /**
   * Due at send time + the drawn delays + the nodes' loop margin per hop + two pull intervals (a returned
   * loop waits in the provider's inbox for the next pull), ms.
   */
  private recordLoopPath(loopId: Uint8Array, route: Route): void {
    const now = this.scheduler.now();
    const delayMs = route.hops.reduce((a, h) => a + h.delayUs, 0) / 1000;
    const margin = LOOP_MARGIN_BASE_MS + LOOP_MARGIN_PER_HOP_MS * route.nodes.length + 2 * this.params.pullIntervalMs;
    this.loopPaths.sent(loopId, now, now + delayMs + margin, route.nodes.map((n) => n.id));
    if (now - this.loopPathsEvaluatedAt >= 1000) this.evaluateLoopPaths(now); // forgets old loops
  }

  private evaluateLoopPaths(now: number): void {
    this.loopPathsEvaluatedAt = now;
    this.loopPaths.evaluate(now);
  }

  /** Own loops per node on their paths: due and returned, in the last 60 s and since start. */
  loopPathCounts(): LoopAttribution {
    this.evaluateLoopPaths(this.scheduler.now());
    return this.loopPaths.attribution();
  }

  private expireLoops(): void {
    const cutoff = this.scheduler.now() - this.loopTimeoutMs;
    for (const [id, at] of this.loops) {
      if (at > cutoff) break;
      this.loops.delete(id);
      this.counters.loops_lost++;
    }
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
        case 'loop': {
          const id = Buffer.from(r.id).toString('hex');
          const sentAt = this.loops.get(id);
          if (sentAt === undefined) {
            this.countInvalid('unknown_loop');
            break;
          }
          this.loops.delete(id);
          this.loopPaths.returned(r.id, this.scheduler.now());
          this.counters.loops_returned++;
          this.rtt.add(this.scheduler.now() - sentAt);
          break;
        }
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
    const message: ReceivedMessage = { messageId, bytes, latencyMs, sentAtMs };
    const waiter = this.receiveWaiters.shift();
    if (waiter) return waiter({ done: false, value: message });
    this.received.push(message);
    if (this.received.length > this.maxQueuedMessages) {
      this.received.shift();
      this.counters.messages_dropped_backlog++;
    }
  }

  private nextMessage(): Promise<IteratorResult<ReceivedMessage>> {
    const m = this.received.shift();
    if (m) return Promise.resolve({ done: false, value: m });
    if (this.stopped) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.receiveWaiters.push(resolve));
  }
}

/** Reads a `loopix keygen` JSON key pair file ({publicKey, privateKey} hex) and checks that they match. */
export function readKeyPairFile(file: string, backend: SphinxBackend = loadSphinx().backend): KeyPair {
  let json: { publicKey?: unknown; privateKey?: unknown };
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as typeof json;
  } catch (err) {
    throw new Error(`key file ${file}: ${(err as Error).message}`);
  }
  const hex32 = (name: string, v: unknown): Uint8Array => {
    if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new RangeError(`key file ${file}: ${name} must be 32 bytes of lowercase hex`);
    return Uint8Array.from(Buffer.from(v, 'hex'));
  };
  const privateKey = hex32('privateKey', json.privateKey);
  const publicKey = hex32('publicKey', json.publicKey);
  if (!Buffer.from(backend.x25519Base(privateKey)).equals(publicKey)) throw new RangeError(`key file ${file}: publicKey does not match privateKey`);
  return { publicKey, privateKey };
}
