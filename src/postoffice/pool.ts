/**
 * The request pool at a client's own provider (AnonPoP §6.1 "request pool", §7.1 "lazy pulling").
 *
 * The client deposits pre-made pull requests (complete Sphinx packets whose first hop is this provider and
 * whose last hop is the post office); every round the provider releases exactly one per client into its own
 * pipeline, whether the client is online or not, so the pull pattern the network sees does not follow the
 * client's connectivity. Answers come back by SURB into the client's inbox here and wait for its next pull.
 * The provider sees only encrypted packets: not the mailbox, not the PO's answer.
 *
 * Bookkeeping is pure and clock-free: `tick()` is one round. A pool holds at most `size` (µ) requests; a
 * deposit beyond that is refused (the caller counts it). A pool that runs dry is counted once and forgotten,
 * so a client gone for good costs nothing. Pools live in memory: after a provider restart the clients top
 * them up again (docs/operations.md "Post office").
 */
export interface PoolTick {
  /** Requests to submit this round, one per client with a non-empty pool. */
  readonly released: Uint8Array[];
  /** Clients whose pool ran dry this round (their pull pattern now has a gap). */
  readonly ranDry: number;
}

export class RequestPool {
  private readonly pools = new Map<string, Uint8Array[]>();

  /** `size`: µ, the requests one client may have waiting. */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
  }

  /** Adds one request for `clientKey`; false when that client's pool already holds `size`. */
  deposit(clientKey: string, packet: Uint8Array): boolean {
    const pool = this.pools.get(clientKey) ?? [];
    if (pool.length >= this.size) return false;
    pool.push(packet);
    this.pools.set(clientKey, pool);
    return true;
  }

  /** Requests waiting for `clientKey`. */
  level(clientKey: string): number {
    return this.pools.get(clientKey)?.length ?? 0;
  }

  /** One round: the oldest request of every client, in insertion order of the clients. */
  tick(): PoolTick {
    const released: Uint8Array[] = [];
    let ranDry = 0;
    for (const [key, pool] of this.pools) {
      const next = pool.shift();
      if (next) released.push(next);
      if (pool.length === 0) {
        this.pools.delete(key);
        ranDry++;
      }
    }
    return { released, ranDry };
  }

  get clients(): number {
    return this.pools.size;
  }
}
