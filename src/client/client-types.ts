/**
 * The client's public types (Loopix §3.2, docs/pipeline.md "The client"): what `LoopixClient` takes
 * (options, the transport factory and what it is told), what send() and reply() return, and what messages()
 * yields. The class itself is in ./client.ts, which re-exports these.
 */
import type { ClientConfig, NetworkParams } from '../config/schema.js';
import type { Geometry } from '../geometry.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/topology-index.js';
import type { BackoffOptions, ClientTransport, LogLike } from './connection.js';
import type { ReassemblerOptions } from './fragments.js';
import type { KeyPair } from './keys.js';
import type { RetransmitPolicy } from './retransmit.js';
import type { ClientStore } from './store.js';
import type { RandomSource, Scheduler } from './streams.js';

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
