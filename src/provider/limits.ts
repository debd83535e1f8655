/**
 * Abuse limits of the provider's client front end (docs/pipeline.md §"Abuse limits at the provider"):
 *
 *  - SUBMIT rate per client: a token bucket refilled at r = submitRateFactor × (λP + λL + λD) packets/s (the
 *    network's cover rates, Loopix §3.2: an honest client sends exactly one packet per event of its three
 *    Poisson streams), holding at most b = max(MIN_SUBMIT_BURST, ⌈submitBurstS × r⌉) packets;
 *  - PULL rate per client: a token bucket refilled at pullRateFactor × 1000 / pullIntervalMs pulls/s (an
 *    honest client pulls once per interval, §3.2), holding at most `pullBurst` pulls;
 *  - concurrent connections per remote address (`maxConnectionsPerAddress`, 0 = unlimited);
 *  - new connections (handshakes) per remote address: a token bucket of `handshakeBurst` refilled at
 *    `handshakesPerS` (0 = unlimited); over it, ERROR(RATE_LIMITED) and a close before any key agreement.
 * Remote addresses are grouped by `addressKey`: an IPv6 host usually owns a whole /64, so limits per single
 * IPv6 address would be no limit at all.
 *
 * A frame over its bucket is dropped (a SUBMIT never enters the pipeline, a PULL gets no reply) and counted;
 * it also costs a token, so the bucket goes into debt. A client whose debt reaches the bucket's capacity (it
 * sent a whole burst's worth beyond its allowance) gets ERROR(RATE_LIMITED) and a close. A client a little
 * above the limit is throttled at first and closed once that persists; one far above it is closed quickly.
 *
 * Buckets are per client (its public key), not per connection: parallel connections of one key share them,
 * and reconnecting does not refill them. An idle client's state is forgotten only once its buckets would be
 * full again anyway, so forgetting never grants a fresh burst early.
 */

/** Smallest SUBMIT bucket, packets: Poisson bursts of slow clients (λ ≈ 1/s) must fit. */
export const MIN_SUBMIT_BURST = 16;
/** How often idle per-client state is swept, ms. */
export const LIMIT_SWEEP_MS = 60_000;

/** The `provider.limits` config section (src/config/schema.ts), resolved against the network parameters. */
export interface FrontEndLimits {
  /** SUBMITs per second allowed per client; 0 = unlimited. */
  readonly submitPerS: number;
  /** SUBMIT bucket capacity (and the debt at which the client is closed), packets. */
  readonly submitBurst: number;
  /** PULLs per second allowed per client; 0 = unlimited. */
  readonly pullPerS: number;
  /** PULL bucket capacity (and the debt at which the client is closed), pulls. */
  readonly pullBurst: number;
  /** Concurrent WebSocket connections per remote address; 0 = unlimited. */
  readonly maxConnectionsPerAddress: number;
  /** New connections per second per remote address; 0 (or absent) = unlimited. */
  readonly handshakesPerS?: number;
  /** Handshake bucket capacity per remote address. */
  readonly handshakeBurst?: number;
}

/** No limits (the front end's default when its options name none, e.g. in unit tests). */
export const NO_LIMITS: FrontEndLimits = Object.freeze({
  submitPerS: 0,
  submitBurst: 0,
  pullPerS: 0,
  pullBurst: 0,
  maxConnectionsPerAddress: 0,
});

export interface LimitsConfig {
  readonly submitRateFactor: number;
  readonly submitBurstS: number;
  readonly pullRateFactor: number;
  readonly pullBurst: number;
  readonly maxConnectionsPerAddress: number;
  readonly handshakesPerMin?: number;
  readonly handshakeBurst?: number;
}

export interface LimitParams {
  readonly lambdaP: number;
  readonly lambdaL: number;
  readonly lambdaD: number;
  readonly pullIntervalMs: number;
}

/** Resolves `provider.limits` against the network's rates (both validated by the config schema). */
export function resolveLimits(c: LimitsConfig, p: LimitParams): FrontEndLimits {
  const submitPerS = c.submitRateFactor * (p.lambdaP + p.lambdaL + p.lambdaD);
  const pullPerS = (c.pullRateFactor * 1000) / p.pullIntervalMs;
  return Object.freeze({
    submitPerS,
    submitBurst: submitPerS > 0 ? Math.max(MIN_SUBMIT_BURST, Math.ceil(c.submitBurstS * submitPerS)) : 0,
    pullPerS,
    pullBurst: pullPerS > 0 ? c.pullBurst : 0,
    maxConnectionsPerAddress: c.maxConnectionsPerAddress,
    handshakesPerS: (c.handshakesPerMin ?? 0) / 60,
    handshakeBurst: c.handshakeBurst ?? 1,
  });
}

/** Throws a RangeError naming the field when `l` is not a usable set of limits; returns it. */
export function checkLimits(l: FrontEndLimits): FrontEndLimits {
  for (const name of ['submitPerS', 'submitBurst', 'pullPerS', 'pullBurst', 'maxConnectionsPerAddress'] as const) {
    const v = l?.[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new RangeError(`limits.${name} must be a finite number ≥ 0, got ${String(v)}`);
  }
  if (l.submitPerS > 0 && l.submitBurst < 1)
    throw new RangeError(`limits.submitBurst must be ≥ 1 with a SUBMIT limit, got ${l.submitBurst}`);
  if (l.pullPerS > 0 && l.pullBurst < 1)
    throw new RangeError(`limits.pullBurst must be ≥ 1 with a PULL limit, got ${l.pullBurst}`);
  if (!Number.isInteger(l.maxConnectionsPerAddress))
    throw new RangeError(`limits.maxConnectionsPerAddress must be an integer, got ${l.maxConnectionsPerAddress}`);
  return l;
}

export type Verdict = 'ok' | 'throttled' | 'exceeded';

/**
 * A token bucket that may go into debt: `take` refills by elapsed time × rate (capped at the capacity), then
 * spends one token. 'ok' when a token was there; 'throttled' when not (the token is still spent: debt);
 * 'exceeded' once the debt reaches the capacity. Times in ms (any monotonic clock).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly perS: number,
    readonly capacity: number,
    now: number,
  ) {
    this.#tokens = capacity;
    this.#at = now;
  }

  #refill(now: number): void {
    const dt = now - this.#at;
    if (dt > 0) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (dt / 1000) * this.perS);
      this.#at = now;
    }
  }

  take(now: number): Verdict {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 'ok';
    }
    this.#tokens -= 1;
    return this.#tokens <= -this.capacity ? 'exceeded' : 'throttled';
  }

  /** Tokens now (negative: debt). */
  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Whether the bucket has refilled completely (forgetting it would grant nothing). */
  full(now: number): boolean {
    return this.tokens(now) >= this.capacity;
  }
}

/** One client's buckets, shared by all its connections. */
export interface ClientBuckets {
  readonly submit: TokenBucket | null;
  readonly pull: TokenBucket | null;
}

/** Per-client buckets keyed by the client id, with reference counts per open session. */
export class ClientLimiter {
  readonly #clients = new Map<string, { buckets: ClientBuckets; sessions: number }>();

  constructor(
    readonly limits: FrontEndLimits,
    private readonly now: () => number,
  ) {}

  /** The buckets of `clientKey` (hex), created full on first use; call `release` when the session ends. */
  attach(clientKey: string): ClientBuckets {
    let e = this.#clients.get(clientKey);
    if (!e) {
      const t = this.now();
      const l = this.limits;
      e = {
        buckets: {
          submit: l.submitPerS > 0 ? new TokenBucket(l.submitPerS, l.submitBurst, t) : null,
          pull: l.pullPerS > 0 ? new TokenBucket(l.pullPerS, l.pullBurst, t) : null,
        },
        sessions: 0,
      };
      this.#clients.set(clientKey, e);
    }
    e.sessions++;
    return e.buckets;
  }

  release(clientKey: string): void {
    const e = this.#clients.get(clientKey);
    if (e && e.sessions > 0) e.sessions--;
  }

  /** Forgets clients without a session whose buckets are full again; returns how many. */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const [key, e] of this.#clients) {
      if (e.sessions === 0 && (e.buckets.submit?.full(t) ?? true) && (e.buckets.pull?.full(t) ?? true)) {
        this.#clients.delete(key);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#clients.size;
  }
}

/**
 * An address in one spelling: IPv4 dotted (an IPv4-mapped IPv6 address as its IPv4 form), IPv6 as eight
 * lowercase hex groups without leading zeros joined by ':'; anything unparsable as given (lowercased).
 */
export function canonicalAddress(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const mapped = /^(?:::|(?:0{1,4}:){5})ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (!a.includes(':')) return a;
  const [head, tail] = a.includes('::') ? (a.split('::', 2) as [string, string]) : [a, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  if (groups.length !== 8 || groups.some((x) => !/^[0-9a-f]{1,4}$/.test(x))) return a;
  return groups.map((x) => parseInt(x, 16).toString(16)).join(':');
}

/**
 * The key a remote address is counted under: IPv4 as it is, IPv6 by its /64 prefix (e.g. "2001:db8:1:2::/64").
 */
export function addressKey(address: string): string {
  const c = canonicalAddress(address);
  const groups = c.split(':');
  return groups.length === 8 ? `${groups.slice(0, 4).join(':')}::/64` : c;
}

/** Handshake token buckets per address key; idle full buckets are forgotten by `sweep`. */
export class HandshakeLimiter {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    readonly perS: number,
    readonly burst: number,
    private readonly now: () => number,
  ) {}

  /** Charges one handshake to `key`; false when over the limit. Never goes into debt beyond one burst. */
  admit(key: string): boolean {
    if (this.perS <= 0) return true;
    let b = this.#buckets.get(key);
    if (!b) this.#buckets.set(key, (b = new TokenBucket(this.perS, this.burst, this.now())));
    const t = this.now();
    if (b.tokens(t) < 1) return false; // no debt: a refused handshake does not extend the penalty
    return b.take(t) === 'ok';
  }

  sweep(): void {
    const t = this.now();
    for (const [key, b] of this.#buckets) if (b.full(t)) this.#buckets.delete(key);
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/** Open connections per remote address. */
export class AddressCounter {
  readonly #open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts a new connection from `address`; false (and not counted) when it would exceed the limit. */
  admit(address: string): boolean {
    const n = this.#open.get(address) ?? 0;
    if (this.max > 0 && n >= this.max) return false;
    this.#open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.#open.get(address) ?? 0;
    if (n <= 1) this.#open.delete(address);
    else this.#open.set(address, n - 1);
  }

  count(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  get addresses(): number {
    return this.#open.size;
  }
}
