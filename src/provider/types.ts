/**
 * The seams between a provider's node pipeline (src/node/provider.ts) and its client front end
 * (src/provider/*): the pipeline stores into an Inbox and takes client packets through a PacketIngress; the
 * front end serves clients over WebSocket from the same Inbox.
 */
import type { Geometry } from '../geometry.js';
import type { FrontEndLimits } from './limits.js';
import type { CounterName } from '../node/counters.js';

export interface StoredPacket {
  /** Storage row id, used to remove the packet once the client acknowledged it. */
  readonly id: number;
  readonly packet: Uint8Array;
}

/** A client's inbox of packets still encrypted for the client (Loopix §3.2 "Message storing"). */
export interface Inbox {
  /** Durably stores `packet` for `clientId` (on disk when this returns). */
  store(clientId: Uint8Array, packet: Uint8Array): void;
  /** Up to `k` oldest packets for `clientId`, without removing them. */
  fetch(clientId: Uint8Array, k: number): StoredPacket[];
  /** Removes acknowledged packets; ids of other clients are ignored. */
  remove(clientId: Uint8Array, ids: readonly number[]): void;
  /** Optional: removes acknowledged packets of several clients in one transaction (one fsync). */
  removeMany?(batch: readonly { readonly clientId: Uint8Array; readonly ids: readonly number[] }[]): void;
  count(clientId: Uint8Array): number;
  /**
   * Optional client registry (docs/pipeline.md §"Client protocol" registration): the front end calls
   * `register` on every successful authentication; the pipeline may use `isRegistered` to refuse deliveries
   * to unknown clients. The SQLite inbox implements both (durably).
   */
  register?(clientId: Uint8Array): void;
  isRegistered?(clientId: Uint8Array): boolean;
  close(): void;
}

/** Entry of the node pipeline for packets a client submitted over its WebSocket (processed as first hop). */
export interface PacketIngress {
  /** Never throws; a packet the pipeline cannot take is counted by reason there. */
  submit(packet: Uint8Array): void;
}

export interface ClientFrontEndOptions {
  readonly geometry: Geometry;
  /** Provider's static X25519 key is not used for auth: authentication uses a fresh ephemeral key per connection. */
  readonly host: string;
  readonly port: number;
  readonly pullK: number;
  readonly registration: 'open' | 'closed';
  readonly allowedClients: readonly string[];
  readonly maxFrameBytes: number;
  readonly authTimeoutMs: number;
  /**
   * Per-client SUBMIT / PULL rates and connections per address (src/provider/limits.ts `resolveLimits` of the
   * config's `provider.limits`); unlimited when absent.
   */
  readonly limits?: FrontEndLimits;
  /**
   * Take the client address for the per-address limits from `header` (e.g. "x-forwarded-for", rightmost
   * entry) on connections from `trustedProxies` only; absent: the socket's peer address.
   */
  readonly clientAddress?: { readonly header?: string; readonly trustedProxies: readonly string[] };
  readonly inbox: Inbox;
  readonly ingress: PacketIngress;
  /**
   * The request pool (src/postoffice/pool.ts): takes one POOL frame's pre-made pull request for the client
   * (its client id, hex); false when the client's pool is full. Absent: POOL frames are unexpected.
   */
  readonly pool?: (clientKey: string, packet: Uint8Array) => boolean;
  /** The network's current key epoch (the prefix of dummy packets, src/provider/dummies.ts); default 0. */
  readonly currentEpoch?: () => number;
  /** Counts by reason (e.g. 'ws_malformed', 'ws_auth_failed') go to the node's metrics. */
  readonly count: (name: CounterName, by?: number) => void;
  readonly log: {
    info(o: object, msg?: string): void;
    warn(o: object, msg?: string): void;
    error(o: object, msg?: string): void;
  };
}

export interface ClientFrontEnd {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Whether uWebSockets.js runs its native binary (false: its slow JS fallback). */
  readonly uwsNative: boolean;
  readonly connections: number;
  close(): Promise<void>;
}
