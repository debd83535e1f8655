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
 *
 * LoopixClient is the façade: it runs the three streams and the public API, and composes parts with one job
 * each — PacketOut (./packets.ts: every packet out), Outbox (./outbox.ts: envelopes, fragments,
 * retransmission, replies), AckQueue (./ack-queue.ts: acks we owe), Surbs (./surbs.ts: SURB keys and reply
 * pools), ClientPostOffice (./post-office.ts: pushes and pooled pulls), Receiver (./receiver.ts: pulled
 * packets), SeenIds (./seen.ts: duplicate suppression). They share only what their options pick from
 * ClientContext (./context.ts); their state stays in them.
 */
import { formatAddress, type RecipientAddress } from '../address.js';
import type { NetworkParams } from '../config/schema.js';
import { LoopixError } from '../errors.js';
import type { Geometry } from '../geometry.js';
import type { LoopAttribution } from '../loops/monitor.js';
import { isAnonymousAddress } from '../postoffice/mailbox.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/topology-index.js';
import { AckQueue } from './ack-queue.js';
import { bytesToHex } from './bytes.js';
import type {
  Delivery,
  LoopixClientOptions,
  ReceivedMessage,
  SendHandle,
  SendOptions,
  SendProgress,
  TransportHandlers,
} from './client-types.js';
import { silentLog, type ClientTransport, type LogLike } from './connection.js';
import type { ClientContext, RetransmitContext } from './context.js';
import { encodeEnvelope, type EnvelopeRecord } from './envelope.js';
import { fragmentCount, MESSAGE_ID_BYTES } from './fragments.js';
import { AckMode, splitData, supportsSurbAcks, type AckModeCode } from './frames.js';
import { checkKeyPair } from './keys.js';
import { LoopTracker } from './loop-tracker.js';
import { Outbox, type OutEnvelope, type PendingMessage } from './outbox.js';
import { PacketOut } from './packets.js';
import { ClientPostOffice } from './post-office.js';
import { Receiver } from './receiver.js';
import { checkMessageSize, parseRecipient } from './recipient.js';
import { DEFAULT_MAX_ATTEMPTS } from './retransmit.js';
import { loopRoute } from './routes.js';
import { SeenIds } from './seen.js';
import { newCounters, type ClientStats } from './stats.js';
import { MemoryStore, type ClientStore, type StoreSnapshot } from './store.js';
import { StoreWriter } from './store-writer.js';
import { cryptoUniform, PoissonStream, systemScheduler, type RandomSource, type Scheduler } from './streams.js';
import { MAX_REPLY_SURBS, Surbs } from './surbs.js';

export type { KeyPair } from './keys.js';
export type { ClientStats, Percentiles } from './stats.js';
export type * from './client-types.js';
export { MAX_REPLY_SURBS, SURB_LOW_WATER, SURB_TOP_UP } from './surbs.js';

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
  private readonly backend: SphinxBackend;
  private readonly log: LogLike;
  private readonly scheduler: Scheduler;
  private readonly random: RandomSource;
  private readonly wallClock: () => number;
  private readonly store: ClientStore;
  private readonly maxEnvelopeBytes: number;
  private readonly ackMode: AckModeCode;
  private readonly streams: { payload: PoissonStream; loop: PoissonStream; drop: PoissonStream };
  private readonly packets: PacketOut;
  private readonly surbs: Surbs;
  private readonly acks: AckQueue;
  private readonly outbox: Outbox;
  private readonly postOffice: ClientPostOffice;
  private readonly receiver: Receiver;
  private readonly seen: SeenIds;
  private readonly loops: LoopTracker;
  private readonly onStop: (() => void | Promise<void>) | undefined;
  private restored: Promise<void> | undefined;
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
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_PROVIDER',
        `config.providerId ${this.providerId} is not a provider in the topology`,
        { field: 'config.providerId' },
      );
    }
    this.backend = o.backend;
    const keys = checkKeyPair(g, (s) => this.backend.x25519Base(s), o.keyPair);
    const privateKey = keys.privateKey;
    this.publicKey = keys.publicKey;
    this.address = formatAddress({ providerId: this.providerId, publicKey: this.publicKey });
    this.log = o.log ?? silentLog;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? cryptoUniform;
    this.wallClock = o.wallClock ?? Date.now;
    this.store = o.store ?? new MemoryStore();
    const retransmit = o.retransmit ?? {};
    const maxAttempts = retransmit.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.onStop = o.onStop;
    this.loops = new LoopTracker({
      now: () => this.scheduler.now(),
      timeoutMs: o.loopTimeoutMs ?? 600_000,
      sampleLimit: o.rttSampleLimit ?? 10_000,
      pullIntervalMs: this.params.pullIntervalMs,
    });
    this.ackMode = supportsSurbAcks(g) ? AckMode.SURB : AckMode.NONE;
    // An envelope holds a message, its reply SURBs and record headers: room for MAX_REPLY_SURBS and slack.
    this.maxEnvelopeBytes = this.params.maxMessageBytes + (MAX_REPLY_SURBS + 1) * g.surbBytes + 1024;

    const handlers: TransportHandlers = {
      onPackets: (packets) => this.receive(packets),
      onConnected: () => {
        this.log.info({ address: this.address }, 'client connected');
        this.postOffice.checkPullGap();
      },
      onDisconnected: (reason) => this.log.info({ reason }, 'client disconnected'),
    };
    this.transport = o.transport(handlers, {
      geometry: g,
      provider,
      publicKey: this.publicKey,
      privateKey,
      backend: this.backend,
      params: this.params,
      scheduler: this.scheduler,
      random: this.random,
      log: this.log,
    });

    // The parts: each takes what its options name (src/client/context.ts), the rest stays in the part.
    const store = new StoreWriter(this.store, this.log);
    const context: ClientContext = {
      geometry: g,
      backend: this.backend,
      params: this.params,
      providerId: this.providerId,
      topology: () => this.topology,
      wallClock: this.wallClock,
      log: this.log,
      store,
      counters: this.counters,
      countInvalid: (reason) => this.countInvalid(reason),
    };
    const retransmission: RetransmitContext = { scheduler: this.scheduler, retransmit, maxAttempts };
    this.seen = new SeenIds(store, this.wallClock, o.seenTtlMs ?? 7 * 86_400_000);
    this.packets = new PacketOut({
      ...context,
      transport: this.transport,
      random: this.random,
      onPacketSent: o.onPacketSent,
    });
    this.surbs = new Surbs({
      ...context,
      publicKey: this.publicKey,
      routeOptions: () => this.packets.routeOptions(),
    });
    this.acks = new AckQueue({ ...context, packets: this.packets });
    this.outbox = new Outbox({
      ...context,
      ...retransmission,
      ackMode: this.ackMode,
      maxEnvelopeBytes: this.maxEnvelopeBytes,
      packets: this.packets,
      surbs: this.surbs,
      onDelivered: o.onDelivered,
    });
    this.postOffice = new ClientPostOffice({
      ...context,
      ...retransmission,
      transport: this.transport,
      packets: this.packets,
      surbs: this.surbs,
      acks: this.acks,
      seen: this.seen,
      deliver: (records, sentAtMs) => this.receiver.deliver(records, sentAtMs, undefined),
    });
    this.receiver = new Receiver({
      ...context,
      privateKey,
      maxMessageBytes: this.params.maxMessageBytes,
      maxEnvelopeBytes: this.maxEnvelopeBytes,
      reassembly: o.reassembly,
      now: () => this.scheduler.now(),
      maxQueuedMessages: o.maxQueuedMessages ?? 10_000,
      latencySampleLimit: o.rttSampleLimit ?? 10_000,
      loops: this.loops,
      surbs: this.surbs,
      outbox: this.outbox,
      acks: this.acks,
      seen: this.seen,
      postOffice: this.postOffice,
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
          this.log.error(
            { stream: name, err: err instanceof Error ? err.message : String(err) },
            'stream event failed',
          );
        },
      });
    this.streams = {
      payload: stream('payload', this.params.lambdaP, () => this.onPayloadEvent()),
      loop: stream('loop', this.params.lambdaL, () => this.onLoopEvent()),
      drop: stream('drop', this.params.lambdaD, () => this.onDropEvent()),
    };

    const snapshot = this.store.load();
    if (snapshot instanceof Promise) this.restored = snapshot.then((s) => this.restore(s));
    else this.restore(snapshot);
  }

  get connected(): boolean {
    return this.transport.connected;
  }

  /** Starts the three streams and the provider session (after the store is loaded). */
  start(): void {
    if (this.running) return;
    if (this.stopped)
      throw new LoopixError('ERR_LOOPIX_CLIENT_STOPPED', 'a stopped client cannot be restarted; create a new one');
    this.running = true;
    const go = () => {
      if (!this.running) return;
      this.transport.start();
      this.streams.payload.start();
      this.streams.loop.start();
      this.streams.drop.start();
    };
    if (this.restored)
      void this.restored.then(go, (err: unknown) =>
        this.log.error({ err: String(err) }, 'client store could not be loaded'),
      );
    else go();
  }

  /** Resolves once the provider session is authenticated (transports that can wait, e.g. the WebSocket one). */
  async waitConnected(timeoutMs = 30_000): Promise<void> {
    await this.restored;
    const t = this.transport as Partial<{ waitConnected(ms: number): Promise<void> }>;
    if (typeof t.waitConnected === 'function') return t.waitConnected.call(this.transport, timeoutMs);
    if (!this.transport.connected)
      throw new LoopixError('ERR_LOOPIX_CLIENT_TRANSPORT', 'transport cannot wait for a connection');
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

  /**
   * Stops sending and pulling, closes the session and ends every messages() iterator. Pending send() promises
   * reject with ERR_LOOPIX_CLIENT_STOPPED; their envelopes stay in the store and are sent again by the next
   * client on the same store.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.stopStreams();
    this.outbox.stopEnvelopes();
    this.postOffice.stop();
    this.outbox.stopWaiting();
    await this.transport.stop();
    this.receiver.inbox.close();
    this.outbox.release();
    await this.onStop?.();
  }

  /**
   * Sends `bytes` to `recipient` (an address string or a parsed address). The message waits in the buffer,
   * shares an envelope with other small messages to the same recipient, and leaves fragment by fragment at
   * the λP stream's pace; each fragment carries a SURB-ack and is sent again on a fresh path until
   * acknowledged, at most `retransmit.maxAttempts` times.
   *
   * Returns at once a promise with the message id (`.messageId`) and progress (`.progress()`); it resolves
   * when every fragment is acknowledged and rejects with ERR_LOOPIX_CLIENT_UNDELIVERED (naming the message id,
   * the fragments left and the attempts) when the attempts are used up. Bad arguments reject with
   * ERR_LOOPIX_CLIENT_MESSAGE (`bytes` over params.maxMessageBytes, `replySurbs` out of range) or
   * ERR_LOOPIX_CLIENT_RECIPIENT.
   */
  send(recipient: string | RecipientAddress, bytes: Uint8Array, options: SendOptions = {}): SendHandle {
    const messageId = crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES));
    const idHex = bytesToHex(messageId);
    let conversation: string | undefined;
    const promise = new Promise<Delivery>((resolve, reject) => {
      const pending: PendingMessage = { messageId: idHex, resolve, reject, onProgress: options.onProgress };
      if (isAnonymousAddress(recipient)) return this.postOffice.queuePush(recipient, messageId, bytes, pending);
      const to = parseRecipient(this.geometry, this.topology, recipient);
      if (!(bytes instanceof Uint8Array))
        throw new LoopixError('ERR_LOOPIX_CLIENT_MESSAGE', 'bytes must be a Uint8Array', { field: 'bytes' });
      checkMessageSize(bytes, this.params.maxMessageBytes);
      const n = options.replySurbs ?? 0;
      if (!Number.isInteger(n) || n < 0 || n > MAX_REPLY_SURBS)
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_MESSAGE',
          `replySurbs must be an integer in 0..${MAX_REPLY_SURBS}, got ${n}`,
          { field: 'replySurbs' },
        );
      const records: EnvelopeRecord[] = [{ kind: 'message', messageId, bytes: Uint8Array.from(bytes) }];
      if (n > 0) {
        conversation = bytesToHex(crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES)));
        records.push(this.surbs.makeReplySurbs(to, conversation, n));
      }
      this.outbox.enqueue({ to, toAddress: formatAddress(to), records, pending });
    });
    // A send nobody awaits must not crash the process with an unhandled rejection when it fails or the client
    // stops: failures are logged and counted (messages_failed); whoever awaits the promise still gets them.
    promise.catch(() => {});
    let acked = 0,
      total = 0;
    const handle = Object.assign(promise, {
      messageId: idHex,
      conversation,
      progress: (): SendProgress => {
        const env = this.outbox.envelopeOf(idHex);
        if (env) {
          total = env.data.length;
          acked = env.acked.filter(Boolean).length;
        }
        return { messageId: idHex, acked, total };
      },
    });
    return handle;
  }

  /**
   * Answers a message through the reply SURBs its sender attached (`ReceivedMessage.replyHandle`); the
   * replier never learns the sender's address. The reply is acknowledged and retransmitted like any message,
   * each transmission using one SURB. When fewer than SURB_LOW_WATER SURBs would be left, the reply also asks
   * the sender for SURB_TOP_UP more. Rejects with ERR_LOOPIX_CLIENT_REPLY_UNKNOWN (no such handle),
   * ERR_LOOPIX_CLIENT_REPLY_EXPIRED (the SURBs' key epochs are over: a handle lives until the end of the key
   * epoch its SURBs were built in) or ERR_LOOPIX_CLIENT_REPLY_NO_SURBS (fewer SURBs than fragments).
   */
  reply(handle: string, bytes: Uint8Array, options: Pick<SendOptions, 'onProgress'> = {}): SendHandle {
    const messageId = crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES));
    const idHex = bytesToHex(messageId);
    let env: OutEnvelope | undefined;
    const promise = new Promise<Delivery>((resolve, reject) => {
      checkMessageSize(bytes, this.params.maxMessageBytes);
      env = this.outbox.queueReply(handle, messageId, bytes, {
        messageId: idHex,
        resolve,
        reject,
        onProgress: options.onProgress,
      });
    });
    promise.catch(() => {}); // as in send()
    return Object.assign(promise, {
      messageId: idHex,
      conversation: undefined,
      progress: (): SendProgress => ({
        messageId: idHex,
        acked: env ? env.acked.filter(Boolean).length : 0,
        total: env ? env.data.length : 0,
      }),
    });
  }

  /**
   * Opens an anonymous mailbox at a post office (AnonPoP §4, §6.2) and returns its address
   * (`loopixpo1:…`, src/postoffice/mailbox.ts): senders `send()` to it, the messages arrive through
   * `messages()`. From now on the client keeps its provider's request pool supplied with pull requests
   * (params.poPoolSize of them, one released per params.poRoundMs). `postOfficeId` defaults to the first post
   * office of the topology. Throws ERR_LOOPIX_PO_NONE when the topology lists none.
   */
  openMailbox(postOfficeId?: string): string {
    return this.postOffice.openMailbox(postOfficeId);
  }

  /** Reply SURBs still usable under `handle` (unexpired). */
  replySurbsLeft(handle: string): number {
    return this.surbs.liveSurbs(handle);
  }

  /** Packets a message of `size` bytes occupies when it travels alone (framing v2, SURB-acks). */
  fragmentsFor(size: number): number {
    if (this.ackMode === AckMode.NONE) return fragmentCount(this.geometry, size);
    return splitData(
      this.geometry,
      encodeEnvelope(this.geometry, [
        {
          kind: 'message',
          messageId: new Uint8Array(MESSAGE_ID_BYTES),
          bytes: crypto.getRandomValues(new Uint8Array(size)),
        },
      ]),
      this.ackMode,
    ).length;
  }

  /** Resolves when nothing waits to be sent (messages, fragments, acks) — acknowledgements may still be due. */
  async flushed(timeoutMs?: number): Promise<void> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    while (
      !this.stopped &&
      (this.outbox.waitingCount > 0 || this.postOffice.queued > 0 || this.outbox.fragmentCount > 0 || !this.acks.empty)
    ) {
      if (Date.now() > deadline)
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_FLUSH_TIMEOUT',
          `send buffer not empty after ${timeoutMs} ms (${this.outbox.fragmentCount} fragments, ${this.outbox.waitingCount} messages left)`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Received messages, in completion order. Several iterators share one queue; stop() ends them all. */
  messages(): AsyncIterable<ReceivedMessage> {
    return this.receiver.inbox.iterable();
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
      send_buffer:
        this.outbox.fragmentCount + this.acks.surbAckCount + this.outbox.waitingCount + this.postOffice.queued,
      unacked_fragments: this.outbox.unackedFragments(),
      messages_queued: this.receiver.inbox.length,
      message_latency_ms: this.receiver.latency.summary(),
      invalid_received: { ...this.invalid },
      reassembly: this.receiver.reassemblyStats(),
      messages_dropped_backlog: this.receiver.inbox.dropped,
      ...(conn ? { connection: JSON.parse(JSON.stringify(conn)) as ClientStats['connection'] } : {}),
    };
  }

  /**
   * Adopts a newer topology document (key rotation: each epoch's document carries that epoch's and the next
   * epoch's keys, so a client that fetches once per epoch always has the keys it needs). Only a document
   * of the same network (geometry, own provider) and not older than the current one is accepted.
   */
  setTopology(next: TopologyIndex): void {
    if (next.doc.epoch < this.topology.doc.epoch)
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_TOPOLOGY',
        `topology epoch ${next.doc.epoch} is older than the current ${this.topology.doc.epoch}`,
        { field: 'epoch' },
      );
    const g = next.geometry;
    if (g.packetBytes !== this.geometry.packetBytes || g.maxHops !== this.geometry.maxHops)
      throw new LoopixError('ERR_LOOPIX_CLIENT_TOPOLOGY', 'topology geometry differs from the current one', {
        field: 'geometry',
      });
    if (next.node(this.providerId)?.role !== 'provider')
      throw new LoopixError('ERR_LOOPIX_CLIENT_TOPOLOGY', `provider ${this.providerId} is not in the new topology`, {
        field: 'nodes',
      });
    this.topology = next;
  }

  /** Loads what the last client on this store left, part by part. */
  private restore(s: StoreSnapshot): void {
    const now = this.wallClock();
    this.postOffice.restore(s.postoffice);
    this.seen.restore(s.seen, now);
    this.receiver.restore(s.partial, now);
    this.surbs.restore(s.surbkeys, s.replypool);
    this.outbox.restore(s.outgoing);
  }

  private countInvalid(reason: string): void {
    this.invalid[reason] = (this.invalid[reason] ?? 0) + 1;
  }

  // --- the three streams (Loopix §3.2) ------------------------------------------------------------------------

  /**
   * λP: the next real packet — an ack, then a fragment, then a new envelope of waiting messages — or a drop
   * cover packet when there is none. Acks and retransmissions take the slot of a drop; they never add one.
   */
  private onPayloadEvent(): void {
    if (!this.transport.connected) {
      this.skipped.payload++;
      return;
    }
    const sent = this.acks.sendNext() ?? this.outbox.sendFragment() ?? this.postOffice.sendPush();
    if (sent === undefined) {
      if (this.packets.sendDrop()) this.counters.sent_drop_cover++;
      else this.skipped.payload++;
    } else if (!sent) this.skipped.payload++;
  }

  /** λL: a loop through the network back to ourselves. */
  private onLoopEvent(): void {
    if (!this.transport.connected) {
      this.skipped.loop++;
      return;
    }
    const loopId = crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes));
    const route = loopRoute(this.topology, this.providerId, this.publicKey, loopId, this.packets.routeOptions());
    const packet = this.packets.build(route, this.packets.coverContent());
    if (this.packets.submit(packet)) this.loops.onSent(loopId, route);
    else this.skipped.loop++;
  }

  /** λD: a drop cover packet to a random provider — or, while the request pool needs one, a pool deposit. */
  private onDropEvent(): void {
    if (!this.transport.connected) {
      this.skipped.drop++;
      return;
    }
    if (this.postOffice.deposit()) return;
    if (this.packets.sendDrop()) this.counters.drops_sent++;
    else this.skipped.drop++;
  }

  // --- receiving --------------------------------------------------------------------------------------------

  /**
   * Unwraps pulled packets (in place) with our private key and acts on each. Resolves once every fragment
   * that will be acknowledged is in the store (the provider deletes the packets only after that).
   */
  receive(packets: readonly Uint8Array[]): void | Promise<void> {
    return this.receiver.receive(packets);
  }
}
