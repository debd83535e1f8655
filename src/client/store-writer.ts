/**
 * Writes of the client's parts to its store (src/client/store.ts). A write never throws into the packet path:
 * a failure is logged and the client goes on. Writes are fire-and-forget for synchronous stores; an
 * asynchronous store's (IndexedDB) write is returned so the receiver can wait for it before it acknowledges a
 * fragment (`afterWrite`): an ack never promises more than the store holds.
 */
import type { LogLike } from './connection.js';
import type { ClientStore, StoreTable } from './store.js';

export class StoreWriter {
  constructor(
    private readonly store: ClientStore,
    private readonly log: LogLike,
  ) {}

  put(table: StoreTable, key: string, value: string): void | Promise<void> {
    return this.persist(() => this.store.put(table, key, value));
  }

  delete(table: StoreTable, key: string): void | Promise<void> {
    return this.persist(() => this.store.delete(table, key));
  }

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
}

/** Runs `f` after a store write (at once for a synchronous store). Not named `then`: that would make the caller a thenable. */
export function afterWrite(w: void | Promise<void>, f: () => void): void | Promise<void> {
  if (w instanceof Promise) return w.then(f);
  f();
}
