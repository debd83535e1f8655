/**
 * What the parts of the client (LoopixClient in ./client.ts composes them) read and report to: the network
 * they send into (geometry, parameters, the topology in use, our provider, the Sphinx backend), the wall clock
 * and the log, and the sinks every part writes to (store writes, counters, invalid-input counts). Each part's
 * options pick from it only what that part uses; the parts' own state stays in the parts.
 */
import type { NetworkParams } from '../config/schema.js';
import type { Geometry } from '../geometry.js';
import type { SphinxBackend } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/topology-index.js';
import type { LogLike } from './connection.js';
import type { RetransmitPolicy } from './retransmit.js';
import type { ClientCounters } from './stats.js';
import type { StoreWriter } from './store-writer.js';
import type { Scheduler } from './streams.js';

export interface ClientContext {
  readonly geometry: Geometry;
  readonly backend: SphinxBackend;
  readonly params: NetworkParams;
  /** Our provider: where our packets enter the network and where the SURBs we build end. */
  readonly providerId: string;
  /** The topology in use (it changes with setTopology). */
  readonly topology: () => TopologyIndex;
  /** Wall clock, unix ms (send stamps, key epochs, SURB expiry, latency). */
  readonly wallClock: () => number;
  readonly log: LogLike;
  readonly store: StoreWriter;
  readonly counters: ClientCounters;
  /** Counts one unusable input by reason (stats().invalid_received). */
  readonly countInvalid: (reason: string) => void;
}

/** What the parts that retransmit until acknowledged (envelopes, pushes) add: timers and the policy. */
export interface RetransmitContext {
  readonly scheduler: Scheduler;
  readonly retransmit: RetransmitPolicy;
  /** Transmissions before a message fails (ERR_LOOPIX_CLIENT_UNDELIVERED). */
  readonly maxAttempts: number;
}
