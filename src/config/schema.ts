/**
 * Configuration schemas (zod): one file per node or client, validated once at start-up (defaults first,
 * then per-section checks), then frozen. Every field's default and unit is documented next to it; rates are
 * per second (the paper quotes per minute: 60/min = 1/s).
 *
 * Errors name the field and the value: `config node.json: params.mu: must be > 0 (got -1)`.
 */
import { z } from 'zod';
import { DirectoryClientSchema, NodeDirectorySchema } from '../directory/config.js';
import { ConfigError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';

const rate = (what: string) => z.number().positive().max(1e6).describe(what);
const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of lowercase hex`);

/**
 * Network-wide parameters (Loopix §3.2, §4.2.1, §5). Every client and node of one network uses the same
 * values; the anonymity analysis (§4) assumes them.
 */
export const NetworkParamsSchema = z.strictObject({
  /** λP, 1/s: payload-or-drop stream of each client (§3.2). Paper §5 latency experiment: 60/min. */
  lambdaP: rate('payload-or-drop rate per client, 1/s').default(1),
  /** λL, 1/s: client loop cover stream (§3.2). */
  lambdaL: rate('client loop rate, 1/s').default(1),
  /** λD, 1/s: client drop cover stream (§3.2). */
  lambdaD: rate('client drop rate, 1/s').default(1),
  /** λM, 1/s: each mix's own loop stream (§3.2, §4.2.1). Paper §5: 60/min. */
  lambdaM: rate('mix loop rate, 1/s').default(1),
  /** µ, 1/s: per-hop delays are Exp(µ), mean 1/µ seconds (§3.2). Paper Fig. 10 uses µ = 2 (0.5 s mean). */
  mu: rate('per-hop delay parameter µ, 1/s').default(2),
  /**
   * Largest per-hop delay, ms, that a node holds a packet for (src/max-delay.ts); default: the Exp(µ)
   * quantile at 1 − 10⁻⁶ (6.9 s at µ = 2/s). A topology document that publishes `maxDelayUs` overrides it.
   */
  maxDelayMs: z.number().positive().max(4_294_967).optional(),
  /** k: every pull answer holds exactly k packets, stored ones first, then dummies (§3.2, Fig. 3). */
  pullK: z.number().int().min(1).max(1024).default(8),
  /** Milliseconds between a client's pulls (a fixed schedule, §3.2). */
  pullIntervalMs: z.number().int().min(10).max(3_600_000).default(1000),
  /** Seconds of the sliding window over which a mix counts returned loops (§4.2.1). */
  loopWindowS: z.number().positive().max(86_400).default(30),
  /**
   * r: a mix raises an (n-1) alarm when fewer than this fraction of its loops sent in the window (and due
   * back) returned (§4.2.1: threshold r = λM/s).
   */
  loopAlarmFraction: z.number().gt(0).lt(1).default(0.7),
  /** The gentle countermeasure of §4.2.1: multiply λM by this while the alarm stands. */
  loopAlarmRateFactor: z.number().min(1).max(100).default(2),
  /**
   * Post office mode (AnonPoP §6.1, §7.1; docs/anonymity.md "Post office mailboxes"). Milliseconds per pull
   * round: a client's provider releases exactly one of the client's pooled pull requests per round. The
   * client refills its pool in drop-cover slots, so λD must exceed 1000 / poRoundMs (default 0.5/s < λD 1/s).
   */
  poRoundMs: z.number().int().min(10).max(3_600_000).default(2000),
  /** µ of the request pool: pre-made pull requests a provider holds per client (rounds it may be offline). */
  poPoolSize: z.number().int().min(1).max(100_000).default(60),
  /**
   * Seconds per mailbox epoch (AnonPoP §6.2 PEM, δ). 3 h = 180 of Appendix A's 60-s slots: our simulation keeps
   * a median anonymity set of ≈ 45 % of the clients with 180-slot epochs, ≈ 25 % with 360 and ≈ 10 % with 720.
   */
  mailboxEpochS: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(3 * 3600),
  /** Seconds after a mailbox epoch boundary during which the previous epoch's mailbox is still pulled. */
  mailboxGraceS: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(600),
  /** Largest application message (bytes) the client API accepts; it is fragmented into packets. */
  maxMessageBytes: z
    .number()
    .int()
    .min(1)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
});
export type NetworkParams = z.infer<typeof NetworkParamsSchema>;

/** The node's packet pipeline (docs/pipeline.md). */
export const PipelineSchema = z.strictObject({
  /**
   * Which packet path runs the node (docs/pipeline.md): "pool" — one UDP socket on the main thread, crypto
   * batches in a worker pool; "sharded" — every worker owns a SO_REUSEPORT socket and does receive, unwrap,
   * delay and send itself, the main thread only steers (Linux).
   */
  mode: z.enum(['pool', 'sharded']).default('pool'),
  /** Worker threads (crypto pool, or packet-path workers when sharded); default: one per core (src/node/cryptoworker.ts: the workers run niced, so the main thread still gets a core when it needs one). */
  workers: z.number().int().min(1).max(64).optional(),
  /** Packets per worker task (one N-API call each). */
  batchSize: z.number().int().min(1).max(4096).default(64),
  /**
   * Milliseconds a partial batch may wait for more packets while a crypto worker is free. 0 (default): it is
   * dispatched at the end of the event-loop turn that brought it; batches still grow under load, because
   * packets accumulate while every worker is busy (src/node/batcher.ts).
   */
  batchWaitMs: z.number().min(0).max(1000).default(0),
  /** Kernel UDP receive/send buffer, bytes (large, so bursts are not lost before we count them). */
  socketBufferBytes: z
    .number()
    .int()
    .min(65536)
    .max(1 << 30)
    .default(8 * 1024 * 1024),
  aqm: z
    .strictObject({
      /**
       * Target queueing delay of the processing queue, ms (RFC 8033 PIE uses 15 ms). 10 ms is 2 % of the mean
       * per-hop mixing delay 1/µ = 500 ms: the standing queue adds nothing a sender's Exp(µ) delay would notice.
       */
      targetDelayMs: z.number().positive().max(10_000).default(10),
      /**
       * Hard bound on the queueing delay, ms: an arrival that finds the oldest queued packet this old (or, on
       * the sharded path, that itself waited this long in the socket buffer) is dropped ("queue_full"),
       * whatever p is. 60 ms is 12 % of 1/µ — beyond it queueing becomes a visible share of the mixing delay
       * and means overload, not a hiccup — and twice a 30-ms stall (a GC pause, a disk write), so a stall at
       * half load drops nothing.
       */
      maxQueueDelayMs: z.number().positive().max(60_000).default(60),
      /**
       * RFC 8033 §4.4 burst allowance, ms: after the queue was empty, no random drop until this much time of
       * queueing has passed, so a short stall drains instead of being shed. PIE's default is 150 ms.
       */
      burstAllowanceMs: z.number().min(0).max(10_000).default(150),
      /** Controller update interval, ms (RFC 8033: 15 ms). */
      intervalMs: z.number().positive().max(10_000).default(15),
      /**
       * PID gains on the delay error e = (queueing delay − target) in seconds, positional form:
       * p = kp·e + ki·∫e dt + kd·de/dt, clamped to [0, 1] (src/node/aqm.ts). kp in 1/s, ki in 1/s², kd
       * dimensionless. Defaults are PIE's (RFC 8033 §4.2) β = 1.25 and α = 0.125 per 15 ms update
       * (α/T ≈ 8 /s²) written as a PID.
       */
      kp: z.number().min(0).default(1.25),
      ki: z.number().min(0).default(8),
      kd: z.number().min(0).default(0),
      /** Hard cap on queued packets; beyond it every arrival is dropped ("queue_full"). */
      hardCapPackets: z.number().int().min(1).max(10_000_000).default(50_000),
    })
    .prefault({}),
  /**
   * Hard cap on packets held in the delay stage. Each held packet costs one packet of memory (a copy, never
   * a view of its batch; ~1.5 kB with its heap entry in the default geometry), so the default bounds the
   * delay stage near 150 MB; beyond it an arrival is dropped as "held_full". By Little's law a node forwarding
   * R packets/s holds R/µ on average (10,000 at 20,000/s and µ = 2/s), and even R × maxDelay when every sender
   * asks for the largest delay allowed (2,000/s × 6.9 s = 13,800).
   */
  maxHeldPackets: z.number().int().min(1).max(10_000_000).default(100_000),
});
export type PipelineConfig = z.infer<typeof PipelineSchema>;

const endpoint = z.strictObject({ host: z.string().min(1), port: z.number().int().min(0).max(65535) });

/** `log` of a node's or a client's config. */
const LogSchema = z
  .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
  .prefault({});

/** A node or client trusts topology documents signed by one authority key or by the directory authorities. */
const hasTrustAnchor = (c: { authorityPublicKey?: unknown; directory?: unknown }) =>
  c.authorityPublicKey !== undefined || c.directory !== undefined;
const TRUST_ANCHOR_MISSING = {
  message: 'needs authorityPublicKey (a static signed topology) or directory (the authorities)',
  path: ['authorityPublicKey'],
};

export const NodeConfigSchema = z
  .strictObject({
    /** This node's id in the topology (hex, geometry.addressBytes bytes). */
    id: z.string().regex(/^[0-9a-f]+$/, 'must be lowercase hex'),
    /** JSON key-pair file written by `loopix keygen` (X25519). */
    keyFile: z.string().min(1),
    /**
     * Signed topology document. With `directory`: where the last valid document of the authorities is kept
     * (written by the node; it starts from it when no authority answers).
     */
    topologyFile: z.string().min(1),
    /** A static signed file's single authority key (Ed25519, hex); the topology must verify against it. */
    authorityPublicKey: hex(32).optional(),
    /**
     * The directory authorities (src/directory/, docs/operations.md "Directory authorities"): the node announces
     * itself with a signed descriptor, fetches each epoch's document (valid with k of n signatures) and files
     * loop reports. Absent: the static signed `topologyFile` under `authorityPublicKey`.
     */
    directory: NodeDirectorySchema.optional(),
    /** UDP bind address; default: the node's topology entry. */
    listen: endpoint.optional(),
    params: NetworkParamsSchema.prefault({}),
    pipeline: PipelineSchema.prefault({}),
    /**
     * Deliberate misbehaviour for tests and the testnet only (src/node/faults.ts): drop or tag a fraction of
     * forwarded packets, or hold each for `delayMs` more. Absent on every real node.
     */
    faults: z
      .strictObject({
        drop: z.number().min(0).max(1).default(0),
        delayMs: z.number().min(0).max(600_000).default(0),
        tag: z.number().min(0).max(1).default(0),
      })
      .optional(),
    /** Key epochs (src/node/epoch-keys.ts, docs/operations.md "Key epochs"). */
    epochs: z
      .strictObject({
        /**
         * Seconds after an epoch begins during which packets under the previous epoch's key are still
         * accepted: a packet built just before the boundary spends its Exp(µ) delays in flight (4 hops at
         * µ = 2/s: mean 2 s, P(> 60 s) < 10⁻²⁰), and clients fetch the new document with some lag. At most
         * three keys are live (previous, current, next), so the effective grace is min(graceS, epoch length).
         */
        graceS: z.number().min(0).max(86_400).default(120),
        /** How often the node re-reads its topology file and key file for the next epochs, seconds. */
        refreshS: z.number().positive().max(3600).default(5),
      })
      .prefault({}),
    /** Replay filter (src/node/replay.ts, docs/pipeline.md "Replay filter"). */
    replay: z
      .strictObject({
        /**
         * The node's maximum unwrap rate R, packets/s (src/node/replay-capacity.ts): each epoch's filter holds
         * R × (epoch length + grace + 60 s) tags (3.6 bytes per tag at 10⁻⁶) and admits no more than
         * R × (seconds since the epoch began + 60 s), so it cannot be filled before its key retires. "auto":
         * measured once on this host (single-core batch unwrap × workers × 1.5) and kept in the state
         * directory; set it from `loopix bench relay` (or above) on production hosts.
         */
        maxRatePps: z.union([z.number().positive().max(1e7), z.literal('auto')]).default('auto'),
        /** False-positive rate of a full filter (an honest packet dropped as "replay"). */
        falsePositiveRate: z.number().gt(0).lt(0.01).default(1e-6),
        /**
         * Memory cap of one epoch's filter, MB. When maxRatePps × (key lifetime + 60 s) tags need more, the
         * filter is this big and admits proportionally fewer tags per second (logged at start): it still
         * cannot be filled before its key retires.
         */
        maxFilterMB: z.number().positive().max(512).default(256),
        /** Key lifetime assumed when keys do not rotate: the filter holds maxRatePps × (this + 60 s) tags. */
        staticWindowS: z
          .number()
          .positive()
          .max(366 * 86_400)
          .default(3600),
        /** Where the snapshots and logs live; default: `<config file dir>/<node id>.state`. */
        stateDir: z.string().min(1).optional(),
        /** Keep the filter on disk (snapshot + log) so it survives restarts; false: in memory only. */
        persist: z.boolean().default(true),
        /** Seconds between snapshots of the bit array (the log covers the time between). */
        snapshotIntervalS: z.number().positive().max(86_400).default(60),
        /** Milliseconds between fdatasync of the log (what a power loss can take; a crash takes nothing). */
        fsyncIntervalMs: z.number().int().min(0).max(60_000).default(1000),
        /**
         * BENCHMARKS ONLY: empty a full filter instead of failing closed, so a load generator can cycle a fixed
         * pool of packets. A node with this set accepts replays after each reset (the weakness issue 6 removes);
         * it logs a warning at start and counts every reset (replay_resets).
         */
        unsafeResetWhenFull: z.boolean().default(false),
      })
      .prefault({}),
    /** Providers only. */
    provider: z
      .strictObject({
        /** WebSocket bind address for clients; default: the port of the topology's ws URL on 127.0.0.1. */
        listen: endpoint.optional(),
        /** Directory of the SQLite inbox database (and of the post office's mailbox database). */
        dataDir: z.string().min(1),
        /**
         * Serve as a post office (AnonPoP §4; docs/pipeline.md "Post office"): FINAL requests are mailbox PUSHes
         * and PULLs. The topology must list this node with `postOffice: true`. Absent: not a post office.
         */
        postOffice: z
          .strictObject({
            /** Seconds after which an envelope nobody pulled is deleted (default 2 days: past any grace period). */
            expiryS: z
              .number()
              .int()
              .min(1)
              .max(365 * 86_400)
              .default(2 * 86_400),
          })
          .optional(),
        /** "open": any client may register a key on first authentication; "closed": only `clients`. */
        registration: z.enum(['open', 'closed']).default('open'),
        /** Client X25519 public keys (hex) allowed when registration is closed. */
        clients: z.array(hex(32)).default([]),
        /**
         * Run even when uWebSockets.js cannot load its native binary (it then serves clients through its slow JS
         * fallback). Default false: such a provider refuses to start (`ERR_LOOPIX_PROVIDER_UWS_FALLBACK`).
         */
        allowJsWebSocket: z.boolean().default(false),
        /** Largest WebSocket frame accepted, bytes; larger frames get an error frame and a close. */
        maxFrameBytes: z
          .number()
          .int()
          .min(1024)
          .max(1 << 24)
          .default(64 * 1024),
        /** Milliseconds a connection may take to authenticate before it is closed. */
        authTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
        /**
         * Seconds after its last authentication at which a registered client key with no stored packet is
         * forgotten (checked hourly); 0 keeps every key forever. A forgotten key registers again on its next
         * authentication. Default 30 days.
         */
        registrationTtlS: z
          .number()
          .int()
          .min(0)
          .default(30 * 24 * 3600),
        /**
         * Abuse limits of the client front end (src/provider/limits.ts, docs/pipeline.md §"Abuse limits at the
         * provider"). Frames over a per-client limit are dropped and counted; a client whose excess reaches a
         * whole bucket gets ERROR(RATE_LIMITED) and a close.
         */
        limits: z
          .strictObject({
            /**
             * SUBMITs per second allowed per client = this × (λP + λL + λD), the rate an honest client sends at
             * (Loopix §3.2). 2 leaves room for Poisson fluctuation; 0 disables the SUBMIT limit.
             */
            submitRateFactor: z.number().min(0).max(1000).default(2),
            /** SUBMIT bucket capacity in seconds of the allowed rate (at least 16 packets). */
            submitBurstS: z.number().positive().max(3600).default(10),
            /** PULLs per second allowed per client = this × 1000 / params.pullIntervalMs; 0 disables. */
            pullRateFactor: z.number().min(0).max(1000).default(2),
            /** PULL bucket capacity, pulls. */
            pullBurst: z.number().int().min(1).max(10_000).default(4),
            /**
             * Concurrent WebSocket connections per remote IP address; 0 = unlimited. A local testnet connects
             * every client from 127.0.0.1: raise this above the clients per provider there.
             */
            maxConnectionsPerAddress: z.number().int().min(0).max(1_000_000).default(64),
            /**
             * New connections (handshakes) per minute allowed per remote address (IPv6: per /64); 0 = unlimited.
             * Each handshake costs the provider two X25519 agreements and may register a key: a churn of fresh
             * keys from one host is throttled here.
             */
            handshakesPerMin: z.number().min(0).max(1_000_000).default(120),
            /** Handshake bucket capacity per address (a testnet starts every client from 127.0.0.1 at once). */
            handshakeBurst: z.number().int().min(1).max(1_000_000).default(128),
          })
          .prefault({}),
        /**
         * Where the per-address limits take a client's address from. Off by default (the socket's peer address).
         * Behind a reverse proxy that terminates TLS, name the header it sets (e.g. "x-forwarded-for") and the
         * proxy's own addresses: the header is believed only on connections from those addresses, and its
         * rightmost entry (the one the trusted proxy appended) is used.
         */
        clientAddress: z
          .strictObject({
            header: z
              .string()
              .regex(/^[a-z0-9-]+$/, 'a lowercase HTTP header name')
              .optional(),
            trustedProxies: z.array(z.string().min(2)).default([]),
          })
          .prefault({}),
      })
      .optional(),
    /** Seconds between statistics reports (stdout JSON line / IPC message); 0 disables. */
    statsIntervalS: z.number().min(0).max(3600).default(1),
    /**
     * Raw samples for the live self-checks of `loopix testnet --check-mixing` (src/node/mixing-probe.ts): pool
     * size at Poisson times, pool entries and departures, own loop round trips — added to every stats report
     * as `mixing_probe`. Off by default: a normal node records nothing.
     */
    probe: z
      .strictObject({
        mixing: z.boolean().default(false),
        /** Mean gap between two pool-size samples, ms (Exp-distributed gaps: Poisson sampling times). */
        sampleIntervalMs: z.number().min(1).max(60_000).default(100),
        /** Most samples of each kind kept between two stats reports (beyond: counted as overflow). */
        maxSamplesPerReport: z.number().int().min(100).max(1_000_000).default(20_000),
      })
      .prefault({}),
    /**
     * The operator's HTTP endpoint (src/ops/http.ts): Prometheus `/metrics` and `/healthz`. Absent: no HTTP
     * server. It binds `listen` exactly; an address other than loopback must be asked for with
     * `allowRemote: true`, so a typo cannot expose a node's metrics to the network.
     */
    ops: z
      .strictObject({
        listen: endpoint,
        allowRemote: z.boolean().default(false),
        /** Sliding window of the live mixing health checks, seconds (src/ops/mixing-health.ts). */
        mixingWindowS: z.number().min(10).max(3600).default(60),
        /** Mean gap between two pool-size samples of the mixing health, ms (Poisson sampling times). */
        poolSampleIntervalMs: z.number().min(10).max(60_000).default(100),
      })
      .optional(),
    log: LogSchema,
  })
  .refine(hasTrustAnchor, TRUST_ANCHOR_MISSING);
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

export const ClientConfigSchema = z
  .strictObject({
    /** JSON key-pair file written by `loopix keygen` (X25519); the public key is the client's identity. */
    keyFile: z.string().min(1),
    /** Id (hex) of this client's provider in the topology. */
    providerId: z.string().regex(/^[0-9a-f]+$/, 'must be lowercase hex'),
    /** The static signed topology, or (with `directory`) where the last valid document is kept. */
    topologyFile: z.string().min(1),
    authorityPublicKey: hex(32).optional(),
    /** Fetch each epoch's document from the directory authorities (k of n signatures). */
    directory: DirectoryClientSchema.optional(),
    params: NetworkParamsSchema.prefault({}),
    log: LogSchema,
  })
  .refine(hasTrustAnchor, TRUST_ANCHOR_MISSING);
export type ClientConfig = z.infer<typeof ClientConfigSchema>;

export { ConfigError };

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Validates `value` against `schema`; throws a ConfigError naming every bad field and its value. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, source: string): Readonly<z.infer<S>> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.join('.') || '(root)';
      let got: unknown = value;
      for (const key of issue.path)
        got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[key] : undefined;
      return `${path}: ${issue.message} (got ${JSON.stringify(got)})`;
    });
    throw new ConfigError(`config ${source}: ${lines.join('; ')}`, {
      field: result.error.issues[0]?.path.join('.') || '(root)',
    });
  }
  return deepFreeze(result.data);
}

export function loadConfigFile<S extends z.ZodType>(schema: S, file: string): Readonly<z.infer<S>> {
  return parseConfig(
    schema,
    readJsonFile(file, { label: 'config', area: 'CONFIG', error: ConfigError, comments: true }),
    file,
  );
}
