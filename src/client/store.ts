/**
 * What a client keeps across restarts (docs/pipeline.md "The client", "Persistence"): the sender's
 * unacknowledged envelopes, the recipient's seen envelope ids and held fragments, and the reply SURB state of
 * both sides. Behind this small interface so each runtime brings its own: SQLite in Node
 * (src/client/sqlite-store.ts), IndexedDB in a browser (src/browser/indexeddb-store.ts: one object store per
 * table), memory in tests.
 *
 * Values are JSON strings the client encodes; the store only keeps them under (table, key). Writes may be
 * asynchronous (IndexedDB): the client awaits them before it acknowledges a fragment, so an ack never
 * promises more than the store holds.
 */
export type StoreTable =
  /** Sender: an envelope not yet fully acknowledged (key: envelope id). */
  | 'outgoing'
  /** Recipient: envelopes completed (key: envelope id), for duplicate suppression across restarts. */
  | 'seen'
  /** Recipient: one held fragment of an incomplete envelope (key: envelope id/index). */
  | 'partial'
  /** SURB creator: the decryption keys of a reply SURB handed out (key: SURB id). */
  | 'surbkeys'
  /** Replier: the SURBs received under one reply handle (key: reply key). */
  | 'replypool'
  /** Post office: mailboxes (key mailbox/<address>), pull SURB keys (surb/<id>) and the pool estimate (pool). */
  | 'postoffice';

export const STORE_TABLES: readonly StoreTable[] = [
  'outgoing',
  'seen',
  'partial',
  'surbkeys',
  'replypool',
  'postoffice',
];

export type StoreSnapshot = Record<StoreTable, Map<string, string>>;

export interface ClientStore {
  /** Everything stored, once at start-up. */
  load(): StoreSnapshot | Promise<StoreSnapshot>;
  put(table: StoreTable, key: string, value: string): void | Promise<void>;
  delete(table: StoreTable, key: string): void | Promise<void>;
  close(): void | Promise<void>;
}

export function emptySnapshot(): StoreSnapshot {
  return {
    outgoing: new Map(),
    seen: new Map(),
    partial: new Map(),
    surbkeys: new Map(),
    replypool: new Map(),
    postoffice: new Map(),
  };
}

/** Keeps nothing across restarts (the default when no store is given, and for tests). */
export class MemoryStore implements ClientStore {
  readonly data = emptySnapshot();
  load(): StoreSnapshot {
    const copy = emptySnapshot();
    for (const t of STORE_TABLES) for (const [k, v] of this.data[t]) copy[t].set(k, v);
    return copy;
  }
  put(table: StoreTable, key: string, value: string): void {
    this.data[table].set(key, value);
  }
  delete(table: StoreTable, key: string): void {
    this.data[table].delete(key);
  }
  close(): void {}
}
