/**
 * Configuration of one directory authority (`loopix authority serve --config FILE`), validated once with zod
 * and frozen. The `network` section and the `authorities` list must be the same at every authority of a
 * network (they decide the bytes every authority signs); `identityKeyFile`, `listen` and `dataDir` are each
 * authority's own.
 */
import { z } from 'zod';
import { IsolationParamsSchema, hexBytes } from './schemas.js';

export const AuthorityEntrySchema = z.strictObject({
  /** The authority's Ed25519 public key (hex). */
  publicKey: hexBytes(32),
  /** Its HTTP base URL, e.g. http://10.0.0.5:7000 (no trailing slash needed). */
  url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL'),
});
export type AuthorityEntry = z.infer<typeof AuthorityEntrySchema>;

/** Default isolation parameters (docs/operations.md "Bad-server isolation"). */
export const DEFAULT_ISOLATION = Object.freeze({
  f: 1,
  expectedFraction: 0.9,
  alpha: 0.001,
  minDue: 20,
  ttlEpochs: 72,
});

export const AuthorityConfigSchema = z.strictObject({
  /** Ed25519 key pair file (`loopix authority keygen`); its public key must be in `authorities`. */
  identityKeyFile: z.string().min(1),
  listen: z.strictObject({ host: z.string().min(1), port: z.number().int().min(0).max(65535) }),
  /** Where the authority keeps descriptors, reports and signed documents (state.json, rewritten atomically). */
  dataDir: z.string().min(1),
  /** All n authorities of the network, this one included. */
  authorities: z.array(AuthorityEntrySchema).min(1).max(64),
  /** k: signatures that make a document valid (default: a majority of n). */
  threshold: z.number().int().min(1).max(64).optional(),
  network: z.strictObject({
    geometry: z.strictObject({
      maxHops: z.number().int(),
      addressBytes: z.number().int(),
      contentBytes: z.number().int(),
    }),
    layers: z.number().int().min(1).max(16),
    epochLengthS: z
      .number()
      .min(1)
      .max(366 * 86_400),
    genesisEpoch: z.number().int().min(0),
    /** Unix ms at which genesisEpoch began. */
    genesisMs: z.number().int().min(0),
    isolation: IsolationParamsSchema.prefault(DEFAULT_ISOLATION),
    /**
     * A network's bootstrap: no document is built before this unix ms, so the nodes of a new network can
     * announce themselves before the first vote (every vote time is max(start − voteLead, firstVoteMs)).
     */
    firstVoteMs: z.number().int().min(0).optional(),
    /**
     * Bootstrap of a new network: until this unix ms, a vote also waits until every registered node has
     * announced itself (all authorities then vote on the same, complete set, however slowly the nodes came up).
     */
    bootstrapUntilMs: z.number().int().min(0).optional(),
  }),
  /** Registered nodes: their identity keys (the operator's registration step, docs/operations.md). */
  nodes: z.array(z.strictObject({ name: z.string().min(1).max(64), identityKey: hexBytes(32) })).max(100_000),
  /** Seconds before an epoch begins at which its document is built and signed (default: half an epoch). */
  voteLeadS: z.number().positive().optional(),
  /** Milliseconds between two pulls from every peer authority (descriptors, reports, signatures). */
  syncIntervalMs: z.number().int().min(50).max(600_000).default(1000),
  /** Largest request body accepted, bytes (larger: 413 without reading further). */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
});
export type AuthorityConfig = z.infer<typeof AuthorityConfigSchema>;

/** Directory section of a node's or client's config: where to fetch documents and whom to trust. */
export const DirectoryClientSchema = z.strictObject({
  authorities: z.array(AuthorityEntrySchema).min(1).max(64),
  /** k (default: a majority of the listed authorities). */
  threshold: z.number().int().min(1).max(64).optional(),
  /** Per-request timeout, ms. */
  timeoutMs: z.number().int().min(50).max(120_000).default(3000),
});
export type DirectoryClientConfig = z.infer<typeof DirectoryClientSchema>;

/** k for n authorities when none is given: a majority. */
export function defaultThreshold(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** A node's directory section: the authorities, its identity key and what it announces about itself. */
export const NodeDirectorySchema = DirectoryClientSchema.extend({
  /** Ed25519 identity key pair (`loopix authority keygen --out`); the node's id is derived from it. */
  identityKeyFile: z.string().min(1),
  /** What the descriptor says (the node's role comes from the command it runs as). */
  announce: z.strictObject({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[\w.-]+$/, 'must be letters, digits, "_", "." or "-"'),
    layer: z.number().int().min(0).max(255),
    udp: z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }),
    ws: z
      .string()
      .regex(/^wss?:\/\/\S+$/)
      .optional(),
  }),
  /** Seconds a node waits at start-up for its first valid document before it gives up. */
  startupWaitS: z.number().positive().max(3600).default(120),
  /** Loop reports (AnonPoP §5.2): file them (default) or only count the evidence. */
  reports: z.boolean().default(true),
});
export type NodeDirectoryConfig = z.infer<typeof NodeDirectorySchema>;

/** What a config trusts: the directory's k of n, or the static file's single authority key. */
export function trustOf(c: {
  readonly authorityPublicKey?: string;
  readonly directory?: { readonly authorities: readonly AuthorityEntry[]; readonly threshold?: number };
}): string | { authorities: string[]; threshold: number } {
  if (c.directory)
    return {
      authorities: c.directory.authorities.map((a) => a.publicKey),
      threshold: c.directory.threshold ?? defaultThreshold(c.directory.authorities.length),
    };
  return c.authorityPublicKey!;
}
