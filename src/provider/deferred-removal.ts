/**
 * Deletion of acknowledged packets, batched and off the reply path. Deleting a stored packet is a SQLite
 * transaction with an fsync (the inbox is synchronous=FULL); done inside the ACK handler it made the provider
 * slower right after an ACK of a reply that carried stored packets than after one of a dummy-only reply — a
 * timing channel on how many real messages a client just received, visible in the next replies to every
 * client. Here an ACK only records the ids; one timer per `flushMs` deletes everything recorded so far in one
 * transaction. Until then, `fetch` hides the recorded ids so that a pull right after the ACK does not serve
 * them again.
 */
import type { Inbox, StoredPacket } from './types.js';

/** How long acknowledged ids wait before their batch is deleted, ms. */
export const REMOVAL_FLUSH_MS = 100;

interface Pending {
  readonly clientId: Uint8Array;
  readonly ids: Set<number>;
}

export class DeferredRemoval {
  readonly #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly inbox: Inbox,
    private readonly onError: (err: unknown, packets: number) => void,
    private readonly flushMs = REMOVAL_FLUSH_MS,
  ) {}

  /** Records acknowledged ids of `clientId`; never touches the database. */
  remove(clientId: Uint8Array, ids: readonly number[]): void {
    const key = Buffer.from(clientId).toString('hex');
    let p = this.#pending.get(key);
    if (!p) this.#pending.set(key, (p = { clientId: clientId.slice(), ids: new Set() }));
    for (const id of ids) p.ids.add(id);
    if (this.#timer === null) {
      this.#timer = setTimeout(() => this.flush(), this.flushMs);
      this.#timer.unref();
    }
  }

  /** Up to `k` oldest stored packets of `clientId` that are not waiting for deletion. */
  fetch(clientId: Uint8Array, k: number): StoredPacket[] {
    const p = this.#pending.get(Buffer.from(clientId).toString('hex'));
    if (!p) return this.inbox.fetch(clientId, k);
    return this.inbox
      .fetch(clientId, k + p.ids.size)
      .filter((s) => !p.ids.has(s.id))
      .slice(0, k);
  }

  /** Packets waiting for deletion. */
  get pending(): number {
    let n = 0;
    for (const p of this.#pending.values()) n += p.ids.size;
    return n;
  }

  /** Deletes everything recorded, in one transaction when the inbox offers one. Never throws. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()].map((p) => ({ clientId: p.clientId, ids: [...p.ids] }));
    this.#pending.clear();
    try {
      if (this.inbox.removeMany) this.inbox.removeMany(batch);
      else for (const b of batch) this.inbox.remove(b.clientId, b.ids);
    } catch (err) {
      // Not deleted: the packets are served again (the client de-duplicates); nothing is lost.
      this.onError(
        err,
        batch.reduce((n, b) => n + b.ids.length, 0),
      );
    }
  }
}
