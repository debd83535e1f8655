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
import type { TopologyIndex } from '../topology/topology-index.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import { silentLog, type BackoffOptions, type ClientTransport, type LogLike } from './connection.js';
import { decodeEnvelope, encodeEnvelope, recordBytes, type EnvelopeRecord } from './envelope.js';
import { fragmentCount, MESSAGE_ID_BYTES, Reassembler, type ReassemblerOptions } from './fragments.js';
import {
  ackCapacity,
  AckMode,
  dataCapacity,
  decodeFrame,
  encodeAck,
  encodeData,
  splitData,
  supportsSurbAcks,
  type AckModeCode,
  type DataFragment,
} from './frames.js';
import { ackTimeoutMs, DEFAULT_MAX_ATTEMPTS, type RetransmitPolicy } from './retransmit.js';
import { MemoryStore, type ClientStore, type StoreSnapshot } from './store.js';
import { Inbox } from './inbox.js';
import { checkKeyPair, type KeyPair } from './keys.js';
import { LoopTracker } from './loop-tracker.js';
import { dropRoute, loopRoute, messageRoute, postOfficeRoute, surbRoute, toAddress, type Route } from './routes.js';
import { PostOfficeClient } from '../postoffice/client.js';
import {
  isAnonymousAddress,
  mailboxEpochAt,
  mailboxId,
  parseAnonymousAddress,
  type AnonymousAddress,
} from '../postoffice/mailbox.js';
import { encodePull, encodePush, sealEnvelope } from '../postoffice/wire.js';
import { SendQueue } from './send-queue.js';
import { newCounters, Samples, type ClientStats } from './stats.js';
import {
  cryptoUniform,
  PoissonStream,
  systemScheduler,
  type RandomSource,
  type Scheduler,
  type TimerHandle,
} from './streams.js';

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
  /**
   * Set when the sender attached reply SURBs (`send(…, { replySurbs })`): pass it to `reply()`. An opaque
   * random tag chosen by the sender for this message; it is not the sender's address and says nothing of it.
   */
  readonly replyHandle?: string;
  /** Set on a reply that came back through our SURBs: the `conversation` of the send() it answers. */
  readonly conversation?: string;
}

/** Fragments of a message acknowledged so far. */
export interface SendProgress {
  readonly messageId: string;
  readonly acked: number;
  readonly total: number;
}

/** What a send() promise resolves with: every fragment of the message was acknowledged by the recipient. */
export interface Delivery {
  readonly messageId: string;
  /** The envelope (unit of fragmentation and acknowledgement) that carried the message. */
  readonly envelopeId: string;
  readonly fragments: number;
  /** Packets sent for the envelope's fragments, first transmissions and retransmissions. */
  readonly transmissions: number;
  /** False only where the geometry leaves no room for a SURB-ack: resolved when handed to the provider. */
  readonly acknowledged: boolean;
}

/** send()'s promise, with the message id at once and progress while the fragments are acknowledged. */
export interface SendHandle extends Promise<Delivery> {
  readonly messageId: string;
  /** With `replySurbs`: the tag the recipient's replies come back under (ReceivedMessage.conversation). */
  readonly conversation: string | undefined;
  progress(): SendProgress;
}

export interface SendOptions {
  /** Attach this many reply SURBs (0..MAX_REPLY_SURBS): the recipient gets a reply handle. */
  readonly replySurbs?: number;
  /** Called after each acknowledged fragment. */
  readonly onProgress?: (p: SendProgress) => void;
}

/** Most reply SURBs one send() attaches (each takes geometry.surbBytes of the envelope). */
export const MAX_REPLY_SURBS = 64;
/** A replier asks for more SURBs when a reply leaves fewer than this many behind. */
export const SURB_LOW_WATER = 2;
/** How many more SURBs it asks for. */
export const SURB_TOP_UP = 4;

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
  /** Unacknowledged envelopes, seen ids and reply SURBs across restarts (default: memory, nothing kept). */
  readonly store?: ClientStore;
  /** Acknowledgement timeouts and attempts (src/client/retransmit.ts). */
  readonly retransmit?: RetransmitPolicy;
  /** Envelopes restored from the store after a restart have no send() promise: told here when acknowledged. */
  readonly onDelivered?: (messageIds: readonly string[]) => void;
  readonly log?: LogLike;
  /** Monotonic clock and timers for the streams, pulls, reconnects, loop RTTs and ack timeouts (default: real time). */
  readonly scheduler?: Scheduler;
  /** Uniform (0, 1] source for the streams, paths and delays (default: CSPRNG). */
  readonly random?: RandomSource;
  /** Wall clock in ms for message send stamps, key epochs, SURB expiry and latency (default Date.now). */
  readonly wallClock?: () => number;
  readonly backoff?: BackoffOptions;
  readonly reassembly?: Omit<ReassemblerOptions, 'maxMessageBytes' | 'now'>;
  /** Received messages kept for the application before the oldest is dropped (default 10 000). */
  readonly maxQueuedMessages?: number;
  /** A loop not back after this long is counted lost (default 10 min). */
  readonly loopTimeoutMs?: number;
  /** Loop round-trip samples kept for percentiles (default 10 000, most recent). */
  readonly rttSampleLimit?: number;
  /** Seen envelope ids are remembered this long for duplicate suppression, ms (default 7 days). */
  readonly seenTtlMs?: number;
  /**
   * Called right after each packet (any stream) is handed to the transport: the client's observable send
   * times, for the sender-unobservability check of `loopix testnet --check-mixing` (Loopix §4.1.2).
   */
  readonly onPacketSent?: () => void;
  /** Called when the client stops (src/client/node.ts stops its topology file watch and closes the store here). */
  readonly onStop?: () => void | Promise<void>;
}

/**
 * A message to an anonymous address until it is acknowledged (or, to an address without an ack provider, until
 * it is pushed). Every transmission is a fresh PUSH (fresh envelope, path and SURB-ack) under the same message
 * id, so the recipient delivers it once.
 */
interface WaitingPush {
  readonly to: AnonymousAddress;
  readonly messageId: Uint8Array;
  readonly bytes: Uint8Array;
  readonly sentAtMs: number;
  readonly pending: PendingMessage;
  attempts: number;
  timer: TimerHandle | undefined;
  done: boolean;
}

/** A message waiting to be put into an envelope (merged with others to the same recipient). */
interface WaitingMessage {
  readonly to: RecipientAddress;
  readonly toAddress: string;
  readonly records: EnvelopeRecord[];
  readonly pending: PendingMessage | undefined;
}

interface PendingMessage {
  readonly messageId: string;
  readonly resolve: (d: Delivery) => void;
  readonly reject: (e: Error) => void;
  readonly onProgress: ((p: SendProgress) => void) | undefined;
}

/** The sender's state of one envelope until every fragment is acknowledged. */
interface OutEnvelope {
  readonly id: Uint8Array;
  readonly idHex: string;
  /** Forward envelopes: the recipient. */
  readonly to: RecipientAddress | undefined;
  /** Replies: the reply handle whose SURBs carry the fragments. */
  readonly replyHandle: string | undefined;
  readonly ackMode: AckModeCode;
  readonly sentAtMs: number;
  readonly data: Uint8Array[];
  readonly acked: boolean[];
  readonly attempts: number[];
  readonly timers: Map<number, TimerHandle>;
  readonly messageIds: string[];
  readonly waiters: PendingMessage[];
  done: boolean;
}

/** A SURB we built: for a fragment's ack (kept in memory) or handed out for replies (kept in the store). */
type SurbEntry =
  | { readonly kind: 'ack'; readonly keys: Uint8Array; readonly envelopeId: string; readonly index: number }
  | {
      readonly kind: 'reply';
      readonly keys: Uint8Array;
      readonly conversation: string;
      readonly replier: string;
      readonly expiresAtMs: number;
    }
  | { readonly kind: 'pushAck'; readonly keys: Uint8Array; readonly push: WaitingPush };

/** A reply SURB received: usable until `expiresAtMs` (the end of the key epoch it was built for). */
interface ReplySurb {
  readonly surb: Uint8Array;
  readonly expiresAtMs: number;
}

/** A forward ACK frame waiting for a λP slot, to one replier. */
interface ForwardAcks {
  readonly to: RecipientAddress;
  readonly entries: Array<{ envelopeId: Uint8Array; index: number }>;
}

const DUMMY_REASONS = new Set(['mac', 'version']);
const NEVER = 2 ** 48 - 1;

function delivered(env: OutEnvelope, messageId: string, acknowledged: boolean): Delivery {
  return {
    messageId,
    envelopeId: env.idHex,
    fragments: env.data.length,
    transmissions: env.attempts.reduce((a, b) => a + b, 0),
    acknowledged,
  };
}

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
  private readonly store: ClientStore;
  private readonly retransmit: RetransmitPolicy;
  private readonly maxAttempts: number;
  private readonly onDelivered: ((ids: readonly string[]) => void) | undefined;
  /** Framing v1 fragments (no acknowledgement), still accepted. */
  private readonly legacy: Reassembler;
  /** Envelope fragments (framing v2). */
  private readonly reassembler: Reassembler;
  private readonly maxEnvelopeBytes: number;
  private readonly ackMode: AckModeCode;
  private readonly streams: { payload: PoissonStream; loop: PoissonStream; drop: PoissonStream };
  /** Messages not yet in an envelope, oldest first. */
  private readonly waiting: WaitingMessage[] = [];
  /** Fragments due for (re)transmission, oldest first. */
  private readonly fragments = new SendQueue<{ env: OutEnvelope; index: number }>();
  /** Prebuilt SURB-ack packets (they go before fragments: a late ack costs the sender a retransmission). */
  private readonly surbAcks = new SendQueue<Uint8Array>();
  /** ACK frames to send forward to repliers, by their address. */
  private readonly forwardAcks = new Map<string, ForwardAcks>();
  private readonly outbox = new Map<string, OutEnvelope>();
  private readonly surbs = new Map<string, SurbEntry>();
  private readonly replyPools = new Map<string, ReplySurb[]>();
  /** Envelopes completed (hex id → wall ms), for duplicate suppression across restarts. */
  private readonly seen = new Map<string, number>();
  /** Incoming envelope id → the conversation whose SURBs carry it (replies to us). */
  private readonly incomingVia = new Map<string, string>();
  private readonly seenTtlMs: number;
  private readonly inbox: Inbox<ReceivedMessage>;
  private readonly loops: LoopTracker;
  private readonly onPacketSent: (() => void) | undefined;
  private readonly onStop: (() => void | Promise<void>) | undefined;
  private readonly latency: Samples;
  private restored: Promise<void> | undefined;
  private running = false;
  private stopped = false;
  private readonly counters = newCounters();
  private readonly skipped = { payload: 0, loop: 0, drop: 0 };
  private readonly invalid: Record<string, number> = {};
  /** Post office mode (src/postoffice/client.ts): mailboxes, the request pool estimate, pull SURB keys. */
  private readonly po: PostOfficeClient;
  /** Messages to anonymous addresses, oldest first. */
  private readonly pushes: WaitingPush[] = [];
  /** Pushes sent and waiting for their SURB-ack, by message id (hex). */
  private readonly unackedPushes = new Map<string, WaitingPush>();

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
    this.privateKey = keys.privateKey;
    this.publicKey = keys.publicKey;
    this.address = formatAddress({ providerId: this.providerId, publicKey: this.publicKey });
    this.log = o.log ?? silentLog;
    this.scheduler = o.scheduler ?? systemScheduler;
    this.random = o.random ?? cryptoUniform;
    this.wallClock = o.wallClock ?? Date.now;
    this.store = o.store ?? new MemoryStore();
    this.retransmit = o.retransmit ?? {};
    this.maxAttempts = this.retransmit.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.onDelivered = o.onDelivered;
    this.seenTtlMs = o.seenTtlMs ?? 7 * 86_400_000;
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
    this.ackMode = supportsSurbAcks(g) ? AckMode.SURB : AckMode.NONE;
    // An envelope holds a message, its reply SURBs and record headers: room for MAX_REPLY_SURBS and slack.
    this.maxEnvelopeBytes = this.params.maxMessageBytes + (MAX_REPLY_SURBS + 1) * g.surbBytes + 1024;
    const now = () => this.scheduler.now();
    this.legacy = new Reassembler(g, { ...o.reassembly, maxMessageBytes: this.params.maxMessageBytes, now });
    this.reassembler = new Reassembler(g, { ...o.reassembly, maxMessageBytes: this.maxEnvelopeBytes, now });

    this.po = new PostOfficeClient(g, this.backend, this.params);
    const handlers: TransportHandlers = {
      onPackets: (packets) => this.receive(packets),
      onConnected: () => {
        this.log.info({ address: this.address }, 'client connected');
        this.checkPullGap();
      },
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
    for (const env of this.outbox.values()) {
      for (const t of env.timers.values()) this.scheduler.clearTimer(t);
      env.timers.clear();
      for (const w of env.waiters.splice(0))
        w.reject(
          new LoopixError(
            'ERR_LOOPIX_CLIENT_STOPPED',
            `message ${w.messageId}: the client stopped before every fragment was acknowledged; a client on the same store resumes it`,
            { field: 'messageId' },
          ),
        );
    }
    for (const m of [...this.pushes.splice(0), ...this.unackedPushes.values()]) {
      if (m.timer !== undefined) this.scheduler.clearTimer(m.timer);
      m.done = true;
      m.pending.reject(
        new LoopixError(
          'ERR_LOOPIX_CLIENT_STOPPED',
          `message ${bytesToHex(m.messageId)}: the client stopped before the push was acknowledged`,
          { field: 'messageId' },
        ),
      );
    }
    this.unackedPushes.clear();
    for (const m of this.waiting.splice(0))
      m.pending?.reject(
        new LoopixError(
          'ERR_LOOPIX_CLIENT_STOPPED',
          `message ${m.pending.messageId}: the client stopped before it was sent`,
          { field: 'messageId' },
        ),
      );
    await this.transport.stop();
    this.inbox.close();
    this.fragments.release();
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
      if (isAnonymousAddress(recipient)) return this.queuePush(recipient, messageId, bytes, pending);
      const to = this.parseRecipient(recipient);
      if (!(bytes instanceof Uint8Array))
        throw new LoopixError('ERR_LOOPIX_CLIENT_MESSAGE', 'bytes must be a Uint8Array', { field: 'bytes' });
      if (bytes.length > this.params.maxMessageBytes) {
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_MESSAGE',
          `bytes must be at most maxMessageBytes = ${this.params.maxMessageBytes} bytes, got ${bytes.length}`,
          { field: 'bytes' },
        );
      }
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
        records.push(this.makeReplySurbs(to, conversation, n));
      }
      this.waiting.push({ to, toAddress: formatAddress(to), records, pending });
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
        const env = [...this.outbox.values()].find((e) => e.messageIds.includes(idHex));
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
      if (bytes.length > this.params.maxMessageBytes) {
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_MESSAGE',
          `bytes must be at most maxMessageBytes = ${this.params.maxMessageBytes} bytes, got ${bytes.length}`,
          { field: 'bytes' },
        );
      }
      const pool = this.replyPools.get(handle);
      if (!pool)
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_REPLY_UNKNOWN',
          `reply handle ${handle} is unknown (no message with reply SURBs came under it)`,
          { field: 'handle' },
        );
      const live = this.liveSurbs(handle);
      if (live === 0) {
        const last = Math.max(0, ...pool.map((s) => s.expiresAtMs));
        if (pool.length > 0) {
          throw new LoopixError(
            'ERR_LOOPIX_CLIENT_REPLY_EXPIRED',
            `reply handle ${handle}: its ${pool.length} SURBs expired at ${new Date(last).toISOString()} (end of the key epoch they were built for)`,
            { field: 'handle' },
          );
        }
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_REPLY_NO_SURBS',
          `reply handle ${handle} has no SURBs left; the sender was asked for more`,
          { field: 'handle' },
        );
      }
      // SURBs already promised to earlier replies under this handle that have not all been acknowledged.
      let committed = 0;
      for (const e of this.outbox.values()) if (e.replyHandle === handle) committed += e.acked.filter((a) => !a).length;
      const available = live - committed;
      const records: EnvelopeRecord[] = [{ kind: 'message', messageId, bytes: Uint8Array.from(bytes) }];
      const count = splitData(this.geometry, encodeEnvelope(this.geometry, records), AckMode.FORWARD).length;
      if (available - count < SURB_LOW_WATER)
        records.push({ kind: 'surbRequest', replyKey: hexToBytes(handle), wanted: SURB_TOP_UP });
      const body = encodeEnvelope(this.geometry, records);
      const data = splitData(this.geometry, body, AckMode.FORWARD);
      if (data.length > available) {
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_REPLY_NO_SURBS',
          `reply handle ${handle}: the reply needs ${data.length} SURBs, ${available} left (${committed} promised to earlier replies)`,
          { field: 'handle' },
        );
      }
      env = this.newEnvelope({
        to: undefined,
        replyHandle: handle,
        ackMode: AckMode.FORWARD,
        data,
        messageIds: [idHex],
        waiters: [{ messageId: idHex, resolve, reject, onProgress: options.onProgress }],
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
    const po = postOfficeId ?? this.topology.postOffices[0]?.id;
    if (po === undefined)
      throw new LoopixError(
        'ERR_LOOPIX_PO_NONE',
        'the topology lists no post office (a provider with postOffice: true)',
        { field: 'postOfficeId' },
      );
    if (this.topology.node(po)?.postOffice !== true)
      throw new LoopixError('ERR_LOOPIX_PO_NONE', `node ${po} is not a post office in the topology`, {
        field: 'postOfficeId',
      });
    const m = this.po.open(po, this.providerId);
    const [key, value] = this.po.mailboxRecord(m);
    void this.persist(() => this.store.put('postoffice', key, value));
    return m.address;
  }

  /** A message to an anonymous address: checked now, sealed and pushed in a λP slot. */
  private queuePush(recipient: string, messageId: Uint8Array, bytes: Uint8Array, pending: PendingMessage): void {
    const to = parseAnonymousAddress(this.geometry, recipient);
    if (this.topology.node(to.postOfficeId)?.postOffice !== true) {
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_RECIPIENT',
        `recipient post office ${to.postOfficeId} is not a post office in the topology`,
        { field: 'recipient' },
      );
    }
    if (!(bytes instanceof Uint8Array))
      throw new LoopixError('ERR_LOOPIX_CLIENT_MESSAGE', 'bytes must be a Uint8Array', { field: 'bytes' });
    // Seal once now so an oversized message rejects at once (ERR_LOOPIX_PO_MESSAGE); sealed again when sent.
    sealEnvelope(this.geometry, this.backend, to.publicKey, {
      messageId,
      sentAtMs: Math.floor(this.wallClock()),
      bytes,
    });
    this.pushes.push({
      to,
      messageId,
      bytes: Uint8Array.from(bytes),
      sentAtMs: Math.floor(this.wallClock()),
      pending,
      attempts: 0,
      timer: undefined,
      done: false,
    });
  }

  /** Reply SURBs still usable under `handle` (unexpired). */
  replySurbsLeft(handle: string): number {
    return this.liveSurbs(handle);
  }

  private liveSurbs(handle: string): number {
    const pool = this.replyPools.get(handle);
    if (!pool) return 0;
    const now = this.wallClock();
    return pool.filter((s) => s.expiresAtMs > now).length;
  }

  private parseRecipient(recipient: string | RecipientAddress): RecipientAddress {
    let to: RecipientAddress | undefined | null;
    try {
      to = typeof recipient === 'string' ? parseAddress(this.geometry, recipient) : recipient;
    } catch (err) {
      throw new LoopixError('ERR_LOOPIX_CLIENT_RECIPIENT', `recipient: ${(err as Error).message}`, {
        field: 'recipient',
        cause: err,
      });
    }
    if (
      !to ||
      typeof to.providerId !== 'string' ||
      !(to.publicKey instanceof Uint8Array) ||
      to.publicKey.length !== this.geometry.publicKeyBytes
    ) {
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_RECIPIENT',
        'recipient must be a loopix1: address or {providerId, publicKey (32 bytes)}',
        { field: 'recipient' },
      );
    }
    const node = this.topology.node(to.providerId);
    if (!node || node.role !== 'provider') {
      throw new LoopixError(
        'ERR_LOOPIX_CLIENT_RECIPIENT',
        `recipient provider ${to.providerId} is not a provider in the topology`,
        { field: 'recipient' },
      );
    }
    return { providerId: to.providerId, publicKey: Uint8Array.from(to.publicKey) };
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
      (this.waiting.length > 0 ||
        this.pushes.length > 0 ||
        this.fragments.length > 0 ||
        this.surbAcks.length > 0 ||
        this.forwardAcks.size > 0)
    ) {
      if (Date.now() > deadline)
        throw new LoopixError(
          'ERR_LOOPIX_CLIENT_FLUSH_TIMEOUT',
          `send buffer not empty after ${timeoutMs} ms (${this.fragments.length} fragments, ${this.waiting.length} messages left)`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
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
    let unacked = 0;
    for (const env of this.outbox.values()) unacked += env.acked.filter((a) => !a).length;
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
      send_buffer: this.fragments.length + this.surbAcks.length + this.waiting.length + this.pushes.length,
      unacked_fragments: unacked,
      messages_queued: this.inbox.length,
      message_latency_ms: this.latency.summary(),
      invalid_received: { ...this.invalid },
      reassembly: {
        incomplete: this.reassembler.incomplete + this.legacy.incomplete,
        incomplete_bytes: this.reassembler.incompleteBytes + this.legacy.incompleteBytes,
        discarded: this.reassembler.discarded + this.legacy.discarded,
      },
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

  // --- persistence ------------------------------------------------------------------------------------------

  /** Writes are fire-and-forget for synchronous stores; an asynchronous store's failures are logged. */
  private persist(op: () => void | Promise<void>): void | Promise<void> {
    try {
      const r = op();
      if (r instanceof Promise)
        return r.catch((err: unknown) => this.log.error({ err: String(err) }, 'client store write failed'));
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'client store write failed');
    }
  }

  private saveEnvelope(env: OutEnvelope): void {
    const value = JSON.stringify({
      to: env.to ? formatAddress(env.to) : null,
      replyHandle: env.replyHandle ?? null,
      ackMode: env.ackMode,
      sentAtMs: env.sentAtMs,
      data: env.data.map((d) => bytesToHex(d)),
      acked: env.acked,
      attempts: env.attempts,
      messageIds: env.messageIds,
    });
    void this.persist(() => this.store.put('outgoing', env.idHex, value));
  }

  private restore(s: StoreSnapshot): void {
    const now = this.wallClock();
    const badPo = this.po.restore(s.postoffice);
    if (badPo > 0) this.countInvalid('store_postoffice');
    for (const [id, at] of s.seen) {
      const t = Number(at);
      if (now - t < this.seenTtlMs) this.seen.set(id, t);
      else void this.persist(() => this.store.delete('seen', id));
    }
    for (const [key, v] of s.partial) {
      try {
        const p = JSON.parse(v) as { count: number; sentAtMs: number; data: string; via?: string; at: number };
        const [id, index] = key.split('/') as [string, string];
        if (this.seen.has(id) || now - p.at > 600_000) {
          void this.persist(() => this.store.delete('partial', key));
          continue;
        }
        this.reassembler.addFragment({
          messageId: hexToBytes(id),
          index: Number(index),
          count: p.count,
          data: hexToBytes(p.data),
          sentAtMs: p.sentAtMs,
        });
        if (p.via) this.incomingVia.set(id, p.via);
      } catch {
        this.countInvalid('store_partial');
      }
    }
    for (const [id, v] of s.surbkeys) {
      try {
        const k = JSON.parse(v) as { keys: string; conversation: string; replier: string; expiresAtMs: number };
        this.surbs.set(id, {
          kind: 'reply',
          keys: hexToBytes(k.keys),
          conversation: k.conversation,
          replier: k.replier,
          expiresAtMs: k.expiresAtMs,
        });
      } catch {
        this.countInvalid('store_surbkeys');
      }
    }
    for (const [handle, v] of s.replypool) {
      try {
        const pool = (JSON.parse(v) as Array<{ surb: string; expiresAtMs: number }>).map((x) => ({
          surb: hexToBytes(x.surb),
          expiresAtMs: x.expiresAtMs,
        }));
        this.replyPools.set(handle, pool);
      } catch {
        this.countInvalid('store_replypool');
      }
    }
    for (const [id, v] of s.outgoing) {
      try {
        const e = JSON.parse(v) as {
          to: string | null;
          replyHandle: string | null;
          ackMode: AckModeCode;
          sentAtMs: number;
          data: string[];
          acked: boolean[];
          attempts: number[];
          messageIds: string[];
        };
        const env: OutEnvelope = {
          id: hexToBytes(id),
          idHex: id,
          to: e.to ? (parseAddress(this.geometry, e.to) ?? undefined) : undefined,
          replyHandle: e.replyHandle ?? undefined,
          ackMode: e.ackMode,
          sentAtMs: e.sentAtMs,
          data: e.data.map((d) => hexToBytes(d)),
          acked: e.acked,
          attempts: e.attempts,
          timers: new Map(),
          messageIds: e.messageIds,
          waiters: [],
          done: false,
        };
        this.outbox.set(id, env);
        env.acked.forEach((a, index) => {
          if (!a) this.fragments.push({ env, index });
        });
      } catch {
        this.countInvalid('store_outgoing');
      }
    }
  }

  private savePool(handle: string): void {
    const pool = this.replyPools.get(handle) ?? [];
    const value = JSON.stringify(pool.map((s) => ({ surb: bytesToHex(s.surb), expiresAtMs: s.expiresAtMs })));
    void this.persist(() => this.store.put('replypool', handle, value));
  }

  // --- envelopes and SURBs ------------------------------------------------------------------------------------

  /** When the SURBs built now stop working: the end of their key epoch (never without rotating keys), unix ms. */
  private surbExpiry(epoch: number): number {
    if (!this.topology.rotates) return NEVER;
    return this.topology.epochStart(epoch + 1);
  }

  private buildSurb(
    firstProviderId: string,
    surbId: Uint8Array,
  ): { surb: Uint8Array; keys: Uint8Array; epoch: number } {
    const route = surbRoute(
      this.topology,
      firstProviderId,
      this.providerId,
      this.publicKey,
      surbId,
      this.routeOptions(),
    );
    const spec = { epoch: route.epoch, hops: route.hops, firstHop: hexToBytes(firstProviderId) };
    let made;
    try {
      made = this.backend.createSurb(this.geometry, spec);
    } catch {
      made = this.backend.createSurb(this.geometry, spec); // unliftable scalar, ~2^-125: a fresh seed fixes it
    }
    return { surb: made.surb, keys: made.decryptionKeys, epoch: this.topology.senderEpoch(this.wallClock()) };
  }

  /** n reply SURBs for `to` to answer under `conversation`; their keys are kept (and stored) under their ids. */
  private makeReplySurbs(to: RecipientAddress, conversation: string, n: number): EnvelopeRecord {
    const surbs: Uint8Array[] = [];
    let expiresAtMs = NEVER;
    const replier = formatAddress(to);
    for (let i = 0; i < n; i++) {
      const surbId = crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes));
      const { surb, keys, epoch } = this.buildSurb(to.providerId, surbId);
      expiresAtMs = Math.min(expiresAtMs, this.surbExpiry(epoch));
      const id = bytesToHex(surbId);
      this.surbs.set(id, { kind: 'reply', keys, conversation, replier, expiresAtMs: this.surbExpiry(epoch) });
      const value = JSON.stringify({
        keys: bytesToHex(keys),
        conversation,
        replier,
        expiresAtMs: this.surbExpiry(epoch),
      });
      void this.persist(() => this.store.put('surbkeys', id, value));
      surbs.push(surb);
    }
    return { kind: 'replySurbs', replyKey: hexToBytes(conversation), expiresAtMs, surbs };
  }

  private newEnvelope(
    o: Pick<OutEnvelope, 'to' | 'replyHandle' | 'ackMode' | 'data' | 'messageIds' | 'waiters'>,
  ): OutEnvelope {
    const id = crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES));
    const env: OutEnvelope = {
      ...o,
      id,
      idHex: bytesToHex(id),
      sentAtMs: this.wallClock(),
      acked: o.data.map(() => false),
      attempts: o.data.map(() => 0),
      timers: new Map(),
      done: false,
    };
    this.outbox.set(env.idHex, env);
    this.saveEnvelope(env);
    for (let index = 0; index < env.data.length; index++) this.fragments.push({ env, index });
    return env;
  }

  /**
   * Merges the oldest waiting message with every other waiting one to the same recipient, as long as the
   * envelope stays within maxEnvelopeBytes, and queues the envelope's fragments.
   */
  private envelopeFromWaiting(): boolean {
    const first = this.waiting[0];
    if (!first) return false;
    const taken: WaitingMessage[] = [];
    let size = 0;
    for (let i = 0; i < this.waiting.length;) {
      const m = this.waiting[i]!;
      const bytes = m.records.reduce((a, r) => a + recordBytes(this.geometry, r), 0);
      if (m.toAddress === first.toAddress && (taken.length === 0 || size + bytes <= this.maxEnvelopeBytes)) {
        taken.push(m);
        size += bytes;
        this.waiting.splice(i, 1);
      } else i++;
    }
    const body = encodeEnvelope(
      this.geometry,
      taken.flatMap((m) => m.records),
    );
    const data = splitData(this.geometry, body, this.ackMode);
    const messageIds = taken.flatMap((m) => (m.pending ? [m.pending.messageId] : []));
    this.newEnvelope({
      to: first.to,
      replyHandle: undefined,
      ackMode: this.ackMode,
      data,
      messageIds,
      waiters: taken.flatMap((m) => (m.pending ? [m.pending] : [])),
    });
    return true;
  }

  private onFragmentAcked(env: OutEnvelope, index: number): void {
    if (env.done || env.acked[index]) return;
    env.acked[index] = true;
    this.counters.acks_received++;
    const t = env.timers.get(index);
    if (t !== undefined) this.scheduler.clearTimer(t);
    env.timers.delete(index);
    this.fragments.remove((f) => f.env === env && f.index === index);
    const acked = env.acked.filter(Boolean).length;
    for (const w of env.waiters) w.onProgress?.({ messageId: w.messageId, acked, total: env.data.length });
    if (acked === env.data.length) this.finish(env, undefined);
    else this.saveEnvelope(env);
  }

  /** Ends an envelope: resolved (err undefined) or failed; forgets it in memory and in the store. */
  private finish(env: OutEnvelope, err: LoopixError | undefined): void {
    env.done = true;
    for (const t of env.timers.values()) this.scheduler.clearTimer(t);
    env.timers.clear();
    this.outbox.delete(env.idHex);
    this.fragments.remove((f) => f.env === env);
    for (const [id, s] of this.surbs) {
      if (s.kind === 'ack' && s.envelopeId === env.idHex) {
        s.keys.fill(0);
        this.surbs.delete(id);
      }
    }
    void this.persist(() => this.store.delete('outgoing', env.idHex));
    if (err) {
      this.counters.messages_failed += env.messageIds.length;
      this.log.warn({ envelopeId: env.idHex, messageIds: env.messageIds, code: err.code }, err.message);
      for (const w of env.waiters.splice(0)) w.reject(err);
      return;
    }
    this.counters.messages_acked += env.messageIds.length;
    const acknowledged = env.ackMode !== AckMode.NONE;
    if (env.waiters.length === 0 && env.messageIds.length > 0) this.onDelivered?.(env.messageIds);
    for (const w of env.waiters.splice(0)) w.resolve(delivered(env, w.messageId, acknowledged));
  }

  private undelivered(env: OutEnvelope, why: string): LoopixError {
    const left = env.acked.filter((a) => !a).length;
    const ids =
      env.messageIds.length === 0
        ? `(envelope ${env.idHex})`
        : env.messageIds.length <= 3
          ? env.messageIds.join(', ')
          : `${env.messageIds.slice(0, 3).join(', ')} and ${env.messageIds.length - 3} more in the same envelope`;
    return new LoopixError(
      'ERR_LOOPIX_CLIENT_UNDELIVERED',
      `message ${ids}: ${left} of ${env.data.length} fragments unacknowledged ${why} (envelope ${env.idHex}, ${env.attempts.reduce((a, b) => a + b, 0)} transmissions, each on a fresh path)`,
      { field: 'messageId' },
    );
  }

  private armTimeout(env: OutEnvelope, index: number): void {
    if (env.ackMode === AckMode.NONE) return;
    const attempt = env.attempts[index]!;
    const ms = ackTimeoutMs(this.params, this.topology.doc.layers, attempt, this.retransmit);
    const old = env.timers.get(index);
    if (old !== undefined) this.scheduler.clearTimer(old);
    env.timers.set(
      index,
      this.scheduler.setTimer(() => {
        env.timers.delete(index);
        if (env.done || env.acked[index]) return;
        if (attempt >= this.maxAttempts) {
          this.finish(
            env,
            this.undelivered(
              env,
              `after ${this.maxAttempts} transmissions each, the last waiting ${Math.round(ms)} ms for its ack`,
            ),
          );
          return;
        }
        this.fragments.push({ env, index });
      }, ms),
    );
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
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'packet creation failed; retrying with a new seed',
      );
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

  /**
   * λP: the next real packet — an ack, then a fragment, then a new envelope of waiting messages — or a drop
   * cover packet when there is none. Acks and retransmissions take the slot of a drop; they never add one.
   */
  private onPayloadEvent(): void {
    if (!this.transport.connected) {
      this.skipped.payload++;
      return;
    }
    const sent = this.sendAck() ?? this.sendFragment() ?? this.sendPush();
    if (sent === undefined) {
      if (this.sendDrop()) this.counters.sent_drop_cover++;
      else this.skipped.payload++;
    } else if (!sent) this.skipped.payload++;
  }

  /** undefined: no ack due; else whether the transport took it. */
  private sendAck(): boolean | undefined {
    const surbAck = this.surbAcks.shift();
    if (surbAck) {
      if (this.submitPacket(surbAck)) {
        this.counters.acks_sent++;
        return true;
      }
      this.surbAcks.unshift(surbAck);
      return false;
    }
    const next = this.forwardAcks.entries().next();
    if (next.done) return undefined;
    const [key, acks] = next.value;
    const batch = acks.entries.slice(0, ackCapacity(this.geometry));
    const route = messageRoute(
      this.topology,
      this.providerId,
      acks.to,
      crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes)),
      this.routeOptions(),
    );
    if (!this.submitPacket(this.build(route, encodeAck(this.geometry, batch)))) return false;
    acks.entries.splice(0, batch.length);
    if (acks.entries.length === 0) this.forwardAcks.delete(key);
    this.counters.acks_sent++;
    return true;
  }

  /** undefined: nothing to send; else whether the transport took the fragment. */
  private sendFragment(): boolean | undefined {
    let item = this.fragments.shift();
    while (item && (item.env.done || item.env.acked[item.index])) item = this.fragments.shift();
    if (!item) {
      if (!this.envelopeFromWaiting()) return undefined;
      return this.sendFragment();
    }
    const { env, index } = item;
    let packet: Uint8Array;
    let surbId: string | undefined;
    try {
      const fragment: DataFragment = {
        envelopeId: env.id,
        index,
        count: env.data.length,
        sentAtMs: env.sentAtMs,
        ackMode: env.ackMode,
        data: env.data[index]!,
      };
      if (env.replyHandle !== undefined) {
        const surb = this.takeReplySurb(env.replyHandle);
        if (!surb) {
          this.finish(
            env,
            this.undelivered(env, `and reply handle ${env.replyHandle} has no unexpired SURB left to send them with`),
          );
          return this.sendFragment();
        }
        const reply = this.backend.createSurbReply(this.geometry, surb, encodeData(this.geometry, fragment));
        if (bytesToHex(reply.firstHop) !== this.providerId) {
          this.countInvalid('surb_first_hop');
          return this.sendFragment();
        }
        packet = reply.packet;
      } else {
        let content: Uint8Array;
        if (env.ackMode === AckMode.SURB) {
          const id = crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes));
          const { surb, keys } = this.buildSurb(env.to!.providerId, id);
          surbId = bytesToHex(id);
          this.surbs.set(surbId, { kind: 'ack', keys, envelopeId: env.idHex, index });
          content = encodeData(this.geometry, { ...fragment, surb });
        } else content = encodeData(this.geometry, fragment);
        packet = this.build(
          messageRoute(this.topology, this.providerId, env.to!, toAddress(this.geometry, env.id), this.routeOptions()),
          content,
        );
      }
    } catch (err) {
      this.fragments.unshift(item);
      throw err;
    }
    if (!this.submitPacket(packet)) {
      if (surbId) this.surbs.delete(surbId);
      this.fragments.unshift(item);
      return false;
    }
    this.counters.sent_real++;
    if (env.attempts[index]! > 0) this.counters.retransmissions++;
    env.attempts[index]!++;
    if (env.ackMode === AckMode.NONE) {
      env.acked[index] = true; // nothing will acknowledge it: done once handed to the provider
      if (env.acked.every(Boolean)) this.finish(env, undefined);
    } else {
      this.saveEnvelope(env);
      this.armTimeout(env, index);
    }
    return true;
  }

  private takeReplySurb(handle: string): Uint8Array | undefined {
    const pool = this.replyPools.get(handle);
    if (!pool) return undefined;
    const now = this.wallClock();
    let s: ReplySurb | undefined;
    while ((s = pool.shift()) && s.expiresAtMs <= now);
    this.savePool(handle);
    return s?.surb;
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

  /**
   * undefined: no push waiting; else whether the transport took it. A PUSH replaces a drop. To an address with
   * an ack provider it carries a SURB-ack and is sent again (fresh envelope, path and SURB) until acknowledged,
   * with the fragments' timeouts and backoff (src/client/retransmit.ts) plus the wait for the recipient's pull.
   */
  private sendPush(): boolean | undefined {
    let m = this.pushes[0];
    while (m && m.done) {
      this.pushes.shift();
      m = this.pushes[0];
    }
    if (!m) return undefined;
    const now = this.wallClock();
    let ack: { id: string; keys: Uint8Array; surb: Uint8Array } | undefined;
    if (m.to.ackProviderId !== undefined && this.topology.node(m.to.ackProviderId)?.role === 'provider') {
      const id = crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes));
      const { surb, keys } = this.buildSurb(m.to.ackProviderId, id);
      ack = { id: bytesToHex(id), keys, surb };
    }
    const envelope = sealEnvelope(this.geometry, this.backend, m.to.publicKey, {
      messageId: m.messageId,
      sentAtMs: m.sentAtMs,
      bytes: m.bytes,
      ...(ack ? { ackSurb: ack.surb } : {}),
    });
    // The mailbox of the epoch at sending; the recipient still pulls the previous one for mailboxGraceS.
    const box = mailboxId(m.to.secret, mailboxEpochAt(now, this.po.epochMs));
    const route = postOfficeRoute(this.topology, this.providerId, m.to.postOfficeId, this.routeOptions());
    if (!this.submitPacket(this.build(route, encodePush(this.geometry, box, envelope)))) {
      ack?.keys.fill(0);
      return false;
    }
    this.pushes.shift();
    this.counters.sent_real++;
    this.counters.po_pushes_sent++;
    if (m.attempts > 0) this.counters.retransmissions++;
    m.attempts++;
    const idHex = bytesToHex(m.messageId);
    if (!ack) {
      this.counters.messages_acked++;
      m.done = true;
      m.pending.resolve({
        messageId: idHex,
        envelopeId: idHex,
        fragments: 1,
        transmissions: m.attempts,
        acknowledged: false,
      });
      return true;
    }
    // Keys of earlier attempts stay: a late ack of any transmission acknowledges the message.
    this.surbs.set(ack.id, { kind: 'pushAck', keys: ack.keys, push: m });
    this.unackedPushes.set(idHex, m);
    this.armPushTimeout(m);
    return true;
  }

  private armPushTimeout(m: WaitingPush): void {
    // A push waits at the PO for the recipient's next pull of that mailbox: one pull per poRoundMs, shared with
    // the previous epoch's mailbox during the grace period, so up to two rounds beyond a fragment's round trip.
    const ms =
      ackTimeoutMs(this.params, this.topology.doc.layers, m.attempts, this.retransmit) + 2 * this.params.poRoundMs;
    m.timer = this.scheduler.setTimer(() => {
      m.timer = undefined;
      if (m.done) return;
      if (m.attempts >= this.maxAttempts) {
        this.finishPush(
          m,
          new LoopixError(
            'ERR_LOOPIX_CLIENT_UNDELIVERED',
            `message ${bytesToHex(m.messageId)}: push to an anonymous address unacknowledged after ${m.attempts} transmissions, the last waiting ${Math.round(ms)} ms for its ack`,
            { field: 'messageId' },
          ),
        );
        return;
      }
      this.pushes.push(m);
    }, ms);
  }

  /** Ends a push: acknowledged (err undefined) or failed; forgets its SURB-ack keys. */
  private finishPush(m: WaitingPush, err: LoopixError | undefined): void {
    if (m.done) return;
    m.done = true;
    if (m.timer !== undefined) this.scheduler.clearTimer(m.timer);
    m.timer = undefined;
    const idHex = bytesToHex(m.messageId);
    this.unackedPushes.delete(idHex);
    // A resend already queued for a λP slot is not needed any more (and must not count as buffered).
    const queued = this.pushes.indexOf(m);
    if (queued >= 0) this.pushes.splice(queued, 1);
    for (const [id, s] of this.surbs) {
      if (s.kind === 'pushAck' && s.push === m) {
        s.keys.fill(0);
        this.surbs.delete(id);
      }
    }
    if (err) {
      this.counters.messages_failed++;
      this.log.warn({ messageId: idHex, code: err.code }, err.message);
      m.pending.reject(err);
      return;
    }
    this.counters.messages_acked++;
    this.counters.acks_received++;
    m.pending.resolve({
      messageId: idHex,
      envelopeId: idHex,
      fragments: 1,
      transmissions: m.attempts,
      acknowledged: true,
    });
  }

  /**
   * A pre-made pull request for our provider's request pool (AnonPoP §6.1): P_own → mixes → PO, PULL of the
   * mailbox due at its release, with a SURB back to our own inbox. Taken in a λD slot, so the rate is unchanged.
   */
  private sendPoolDeposit(): boolean {
    const submitPool = this.transport.submitPool?.bind(this.transport);
    if (!submitPool) return false;
    const now = this.wallClock();
    const target = this.po.nextTarget(now);
    const surbId = crypto.getRandomValues(new Uint8Array(this.geometry.addressBytes));
    const { surb, keys } = this.buildSurb(target.mailbox.postOfficeId, surbId);
    const route = postOfficeRoute(this.topology, this.providerId, target.mailbox.postOfficeId, this.routeOptions());
    const packet = this.build(route, encodePull(this.geometry, target.mailboxId, surb));
    if (!submitPool(packet)) {
      keys.fill(0);
      return false;
    }
    this.po.deposited(target, surbId, keys);
    this.counters.po_pool_deposits++;
    const rec = this.po.surbRecord(surbId);
    const pool = this.po.poolRecord();
    if (rec) void this.persist(() => this.store.put('postoffice', rec[0], rec[1]));
    void this.persist(() => this.store.put('postoffice', pool[0], pool[1]));
    for (const id of this.po.expireSurbs(now)) void this.persist(() => this.store.delete('postoffice', `surb/${id}`));
    return true;
  }

  /** At a (re)connect: warn when we were away longer than the request pool covered (AnonPoP §6.1). */
  private checkPullGap(): void {
    const rounds = this.po.checkGap(this.wallClock());
    if (rounds === 0) return;
    this.counters.po_pull_gaps++;
    this.counters.po_gap_rounds += rounds;
    this.log.warn(
      { rounds, poolSize: this.params.poPoolSize, roundMs: this.params.poRoundMs },
      `offline longer than the request pool covers (${this.params.poPoolSize} rounds of ${this.params.poRoundMs} ms): the pull pattern showed a gap of ${rounds} rounds, visible to the network`,
    );
  }

  /** λD: a drop cover packet to a random provider — or, while the request pool needs one, a pool deposit. */
  private onDropEvent(): void {
    if (!this.transport.connected) {
      this.skipped.drop++;
      return;
    }
    if (this.po.wantsDeposit(this.wallClock()) && this.sendPoolDeposit()) return;
    if (this.sendDrop()) this.counters.drops_sent++;
    else this.skipped.drop++;
  }

  // --- receiving --------------------------------------------------------------------------------------------

  private countInvalid(reason: string): void {
    this.invalid[reason] = (this.invalid[reason] ?? 0) + 1;
  }

  /**
   * Unwraps pulled packets (in place) with our private key and acts on each. Resolves once every fragment
   * that will be acknowledged is in the store (the provider deletes the packets only after that).
   */
  receive(packets: readonly Uint8Array[]): void | Promise<void> {
    const writes: Promise<void>[] = [];
    for (const packet of packets) {
      this.counters.packets_received++;
      const r = this.backend.unwrap(this.geometry, this.privateKey, packet);
      let w: void | Promise<void> = undefined;
      switch (r.kind) {
        case 'final':
          this.counters.fragments_received++;
          w = this.onContent(r.content, undefined);
          break;
        case 'surbReply':
          w = this.onSurbReply(r.id, r.payload);
          break;
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
      if (w instanceof Promise) writes.push(w);
    }
    if (writes.length > 0) return Promise.all(writes).then(() => undefined);
  }

  /** A packet that came back through one of our SURBs: a fragment's ack, or a reply. */
  private onSurbReply(id: Uint8Array, payload: Uint8Array): void | Promise<void> {
    const key = bytesToHex(id);
    const entry = this.surbs.get(key);
    if (!entry) return this.onPullAnswer(id, payload);
    const content = this.backend.openSurbReply(this.geometry, entry.keys, payload);
    if (!content) return this.countInvalid('surb_integrity');
    // Single use: a replayed or duplicated reply finds no keys (unknown_surb).
    this.surbs.delete(key);
    entry.keys.fill(0);
    if (entry.kind === 'pushAck') {
      const f = decodeFrame(this.geometry, content);
      if (
        f.type !== 'ack' ||
        f.entries.length !== 1 ||
        bytesToHex(f.entries[0]!.envelopeId) !== bytesToHex(entry.push.messageId) ||
        f.entries[0]!.index !== 0
      ) {
        return this.countInvalid('ack_mismatch');
      }
      if (entry.push.done) this.counters.duplicates_ignored++;
      else this.finishPush(entry.push, undefined);
      return;
    }
    if (entry.kind === 'ack') {
      const f = decodeFrame(this.geometry, content);
      if (
        f.type !== 'ack' ||
        f.entries.length !== 1 ||
        bytesToHex(f.entries[0]!.envelopeId) !== entry.envelopeId ||
        f.entries[0]!.index !== entry.index
      ) {
        return this.countInvalid('ack_mismatch');
      }
      const env = this.outbox.get(entry.envelopeId);
      if (env) this.onFragmentAcked(env, entry.index);
      else this.counters.duplicates_ignored++;
      return;
    }
    void this.persist(() => this.store.delete('surbkeys', key));
    this.counters.fragments_received++;
    return this.onContent(content, entry);
  }

  /** A SURB reply that is no ack or reply of ours: a post office's answer to one of our pooled pulls, or unknown. */
  private onPullAnswer(id: Uint8Array, payload: Uint8Array): void | Promise<void> {
    const keys = this.po.takeSurb(id);
    if (!keys) return this.countInvalid('unknown_surb');
    void this.persist(() => this.store.delete('postoffice', `surb/${bytesToHex(id)}`));
    const content = this.backend.openSurbReply(this.geometry, keys, payload);
    keys.fill(0);
    if (!content) return this.countInvalid('surb_integrity');
    const m = this.po.openAnswer(content);
    if (!m) {
      this.counters.po_answers_dummy++;
      return;
    }
    this.counters.po_answers_real++;
    const idHex = bytesToHex(m.messageId);
    if (this.seen.has(idHex)) {
      // A retransmitted push (our ack was lost or late) or one answered twice (the PO crashed between answering
      // and deleting): acknowledge again, deliver nothing.
      this.counters.duplicates_ignored++;
      this.queuePushAck(m.messageId, m.ackSurb);
      return;
    }
    this.seen.set(idHex, this.wallClock());
    const w = this.persist(() => this.store.put('seen', idHex, String(this.wallClock())));
    this.deliver([{ kind: 'message', messageId: m.messageId, bytes: m.bytes }], m.sentAtMs, undefined);
    return this.afterWrite(w, () => this.queuePushAck(m.messageId, m.ackSurb));
  }

  /**
   * Acknowledges a push through the sender's SURB-ack: an ACK frame of (message id, index 0), recipient → our
   * provider → mixes → the sender's provider. It never passes the post office.
   */
  private queuePushAck(messageId: Uint8Array, ackSurb: Uint8Array | undefined): void {
    if (!ackSurb) return;
    let reply;
    try {
      reply = this.backend.createSurbReply(
        this.geometry,
        ackSurb,
        encodeAck(this.geometry, [{ envelopeId: messageId, index: 0 }]),
      );
    } catch {
      return this.countInvalid('ack_surb');
    }
    // The SURB must start at our own provider: that is where our packets enter the network.
    if (bytesToHex(reply.firstHop) !== this.providerId) return this.countInvalid('ack_first_hop');
    this.surbAcks.push(reply.packet);
  }

  /** One decrypted C-byte content: a fragment (v1 or v2) or an ACK frame. */
  private onContent(content: Uint8Array, via: Extract<SurbEntry, { kind: 'reply' }> | undefined): void | Promise<void> {
    const f = decodeFrame(this.geometry, content);
    switch (f.type) {
      case 'fragment_v1': {
        const added = this.legacy.add(content);
        if (added.status === 'complete')
          this.deliver(
            [{ kind: 'message', messageId: hexToBytes(added.message.messageId), bytes: added.message.bytes }],
            added.message.sentAtMs,
            undefined,
          );
        else if (added.status === 'duplicate') this.counters.duplicates_ignored++;
        else if (added.status === 'invalid') this.countInvalid(`fragment_${added.reason}`);
        return;
      }
      case 'ack':
        for (const e of f.entries) {
          const env = this.outbox.get(bytesToHex(e.envelopeId));
          if (env && env.ackMode === AckMode.FORWARD && e.index < env.data.length) this.onFragmentAcked(env, e.index);
          else this.countInvalid('unknown_ack');
        }
        return;
      case 'data':
        return this.onData(f.fragment, via);
      default:
        return this.countInvalid(`fragment_${f.reason}`);
    }
  }

  private onData(f: DataFragment, via: Extract<SurbEntry, { kind: 'reply' }> | undefined): void | Promise<void> {
    const id = bytesToHex(f.envelopeId);
    const ack = () => this.queueAck(f, via);
    if (f.ackMode === AckMode.FORWARD && !via) return this.countInvalid('fragment_ack_route');
    if (f.count > Math.ceil(this.maxEnvelopeBytes / dataCapacity(this.geometry, f.ackMode)))
      return this.countInvalid('fragment_count');
    if (this.seen.has(id)) {
      // Our earlier ack was lost (or is late): the sender sent again. Acknowledge again, deliver nothing.
      this.counters.duplicates_ignored++;
      return ack();
    }
    const added = this.reassembler.addFragment({
      messageId: f.envelopeId,
      index: f.index,
      count: f.count,
      data: f.data,
      sentAtMs: f.sentAtMs,
    });
    switch (added.status) {
      case 'invalid':
        return this.countInvalid(`fragment_${added.reason}`);
      case 'duplicate':
        this.counters.duplicates_ignored++;
        return ack();
      case 'partial': {
        if (via) this.incomingVia.set(id, via.conversation);
        const value = JSON.stringify({
          count: f.count,
          sentAtMs: f.sentAtMs,
          data: bytesToHex(f.data),
          at: this.wallClock(),
          ...(via ? { via: via.conversation } : {}),
        });
        return this.afterWrite(
          this.persist(() => this.store.put('partial', `${id}/${f.index}`, value)),
          ack,
        );
      }
      case 'complete': {
        this.seen.set(id, this.wallClock());
        const w = this.persist(() => this.store.put('seen', id, String(this.wallClock())));
        for (let i = 0; i < f.count; i++)
          if (i !== f.index) void this.persist(() => this.store.delete('partial', `${id}/${i}`));
        const conversation = via?.conversation ?? this.incomingVia.get(id);
        this.incomingVia.delete(id);
        const env = decodeEnvelope(this.geometry, added.message.bytes, this.maxEnvelopeBytes);
        if (!env.ok) this.countInvalid(env.reason);
        else this.deliver(env.records, added.message.sentAtMs, conversation, via?.replier);
        return this.afterWrite(w, ack);
      }
    }
  }

  /** Runs `f` after a store write (at once for a synchronous store). Not named `then`: that would make the client a thenable. */
  private afterWrite(w: void | Promise<void>, f: () => void): void | Promise<void> {
    if (w instanceof Promise) return w.then(f);
    f();
  }

  /** Queues the acknowledgement of one fragment we now hold. */
  private queueAck(f: DataFragment, via: Extract<SurbEntry, { kind: 'reply' }> | undefined): void {
    if (f.ackMode === AckMode.SURB) {
      const { firstHop, packet } = this.backend.createSurbReply(
        this.geometry,
        f.surb!,
        encodeAck(this.geometry, [{ envelopeId: f.envelopeId, index: f.index }]),
      );
      // The SURB must start at our own provider: that is where our packets enter the network.
      if (bytesToHex(firstHop) !== this.providerId) return this.countInvalid('ack_first_hop');
      this.surbAcks.push(packet);
    } else if (f.ackMode === AckMode.FORWARD && via) {
      const to = parseAddress(this.geometry, via.replier);
      if (!to) return this.countInvalid('ack_route');
      const acks = this.forwardAcks.get(via.replier) ?? { to, entries: [] };
      acks.entries.push({ envelopeId: f.envelopeId, index: f.index });
      this.forwardAcks.set(via.replier, acks);
    }
  }

  /** Hands an envelope's messages to the application, in order; keeps its reply SURBs; answers SURB requests. */
  private deliver(
    records: readonly EnvelopeRecord[],
    sentAtMs: number,
    conversation: string | undefined,
    replier?: string,
  ): void {
    let replyHandle: string | undefined;
    for (const r of records) {
      if (r.kind === 'replySurbs') {
        replyHandle = bytesToHex(r.replyKey);
        const pool = this.replyPools.get(replyHandle) ?? [];
        for (const surb of r.surbs) pool.push({ surb, expiresAtMs: r.expiresAtMs });
        this.replyPools.set(replyHandle, pool);
        this.savePool(replyHandle);
      } else if (r.kind === 'surbRequest' && conversation !== undefined && replier !== undefined) {
        const to = parseAddress(this.geometry, replier);
        const wanted = Math.min(r.wanted, MAX_REPLY_SURBS);
        if (to && wanted > 0)
          this.waiting.push({
            to,
            toAddress: replier,
            records: [this.makeReplySurbs(to, conversation, wanted)],
            pending: undefined,
          });
      }
    }
    const latencyMs = Math.max(0, this.wallClock() - sentAtMs);
    for (const r of records) {
      if (r.kind !== 'message') continue;
      this.counters.received_real++;
      if (conversation !== undefined) this.counters.replies_received++;
      this.latency.add(latencyMs);
      this.inbox.push({
        messageId: bytesToHex(r.messageId),
        bytes: r.bytes,
        latencyMs,
        sentAtMs,
        ...(replyHandle !== undefined ? { replyHandle } : {}),
        ...(conversation !== undefined ? { conversation } : {}),
      });
    }
  }
}
