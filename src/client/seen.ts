/**
 * Ids the recipient has completed — envelopes, and messages pushed through a post office — kept for
 * `seenTtlMs` and across restarts, so a retransmission (sent because our ack was lost or late) is
 * acknowledged again but delivered only once.
 */
import type { StoreWriter } from './store-writer.js';
import { decodeSeen, encodeSeen } from './store-codec.js';

export class SeenIds {
  /** Hex id → wall ms it was completed. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly store: StoreWriter,
    private readonly wallClock: () => number,
    private readonly ttlMs: number,
  ) {}

  has(id: string): boolean {
    return this.seen.has(id);
  }

  /** Remembers `id`; returns the store write (an ack waits for it). */
  add(id: string): void | Promise<void> {
    this.seen.set(id, this.wallClock());
    return this.store.put('seen', id, encodeSeen(this.wallClock()));
  }

  /** Loads the stored ids still within the TTL at `now` (wall ms) and deletes the others. */
  restore(rows: ReadonlyMap<string, string>, now: number): void {
    for (const [id, at] of rows) {
      const t = decodeSeen(at);
      if (now - t < this.ttlMs) this.seen.set(id, t);
      else void this.store.delete('seen', id);
    }
  }
}
