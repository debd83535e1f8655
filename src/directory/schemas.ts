/**
 * Wire schemas (zod) of the directory: node descriptors, loop reports, the epoch document and the authority
 * HTTP API. Every request body is parsed with one of these before anything else looks at it; a failure
 * names the field (`descriptor.body.udp.port: …`), and nothing is stored.
 *
 * Signed objects travel as `{ body, signature }`: the signature is over signedBytes(kind, body)
 * (src/directory/identity.ts), so the receiver verifies exactly the fields it then uses.
 */
import { z } from 'zod';

export const hexBytes = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of lowercase hex`);
/** A node id: 1..64 bytes of hex (the network's geometry.addressBytes is checked where it is known). */
export const NodeIdSchema = z.string().regex(/^(?:[0-9a-f]{2}){1,64}$/, 'must be 1..64 bytes of lowercase hex');
const epoch = z
  .number()
  .int()
  .min(0)
  .max(2 ** 40);
const unixMs = z
  .number()
  .int()
  .min(0)
  .max(2 ** 53 - 1);
const signature = hexBytes(64);

/** Most epoch keys one descriptor may announce. */
export const MAX_DESCRIPTOR_KEYS = 16;

export const DescriptorBodySchema = z.strictObject({
  version: z.literal(1),
  /** The node's long-term Ed25519 identity key (hex); the operator registers it with every authority. */
  identityKey: hexBytes(32),
  /** Must equal nodeIdFor(identityKey). */
  id: NodeIdSchema,
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/, 'must be letters, digits, "_", "." or "-"'),
  role: z.enum(['mix', 'provider']),
  layer: z.number().int().min(0).max(255),
  udp: z.strictObject({ host: z.string().min(1).max(253), port: z.number().int().min(1).max(65535) }),
  ws: z
    .string()
    .regex(/^wss?:\/\/[^\s]{1,250}$/, 'must be a ws:// or wss:// URL')
    .optional(),
  /** A provider that also serves as a post office (its config has provider.postOffice): listed so in the document. */
  postOffice: z.literal(true).optional(),
  /** X25519 public keys by epoch (the current and the next ones at least); epochs strictly increasing. */
  keys: z
    .array(z.strictObject({ epoch, publicKey: hexBytes(32) }))
    .min(1)
    .max(MAX_DESCRIPTOR_KEYS)
    .refine((ks) => ks.every((k, i) => i === 0 || k.epoch > ks[i - 1]!.epoch), 'epochs must be strictly increasing'),
  /** When the node signed it (unix ms): of two descriptors of one node the later wins. */
  issuedAtMs: unixMs,
});
export type DescriptorBody = z.infer<typeof DescriptorBodySchema>;
export const SignedDescriptorSchema = z.strictObject({ body: DescriptorBodySchema, signature });
export type SignedDescriptor = z.infer<typeof SignedDescriptorSchema>;

export const LinkSchema = z.strictObject({ from: NodeIdSchema, to: NodeIdSchema });
export type Link = z.infer<typeof LinkSchema>;

export const ReportBodySchema = z.strictObject({
  version: z.literal(1),
  /** The epoch during which the report was filed (an authority accepts only its current epoch). */
  epoch,
  /** The reporter's identity key; `link.from` must be its node id (a node reports only its own links). */
  reporterKey: hexBytes(32),
  link: LinkSchema,
  /** Loops through the link that were due back, and how many returned (the evidence of the one-sided test). */
  due: z.number().int().min(1).max(1e9),
  returned: z.number().int().min(0).max(1e9),
  issuedAtMs: unixMs,
});
export type ReportBody = z.infer<typeof ReportBodySchema>;
export const SignedReportSchema = z.strictObject({ body: ReportBodySchema, signature });
export type SignedReport = z.infer<typeof SignedReportSchema>;

/** Isolation parameters every document carries (the same at every authority of a network). */
export const IsolationParamsSchema = z.strictObject({
  /** f: the bound on corrupt nodes. A node named by more than f distinct reporters is excluded (AnonPoP §5.2). */
  f: z.number().int().min(0).max(1000),
  /**
   * p0: the loop return fraction an honest link keeps. A report must reject "return fraction ≥ p0" with the
   * one-sided exact binomial test at level alpha.
   */
  expectedFraction: z.number().gt(0).lt(1),
  /** α: the test's level (confidence 1 − α). */
  alpha: z.number().gt(0).max(0.1),
  /** Fewest due loops a report may rest on (never one lost loop). */
  minDue: z.number().int().min(5).max(1e6),
  /** Epochs a report stays in force after the epoch it was filed in. */
  ttlEpochs: z.number().int().min(1).max(1e6),
});
export type IsolationParams = z.infer<typeof IsolationParamsSchema>;

export const DirectorySectionSchema = z.strictObject({
  /** The n authorities' Ed25519 keys (hex, sorted). */
  authorities: z.array(hexBytes(32)).min(1).max(64),
  /** k: signatures needed. */
  threshold: z.number().int().min(1).max(64),
  isolation: IsolationParamsSchema,
  /** Links (from → to) no path may use this epoch, sorted. */
  removedLinks: z.array(LinkSchema).max(100_000),
  /** Nodes no path may use this epoch (named by more than f distinct reporters), sorted. */
  excluded: z.array(NodeIdSchema).max(100_000),
  /** The reports behind removedLinks / excluded, by reporter and link (for operators and audits). */
  evidence: z.array(z.strictObject({ link: LinkSchema, reporters: z.array(NodeIdSchema) })).max(100_000),
});
export type DirectorySection = z.infer<typeof DirectorySectionSchema>;

export const DocumentSignatureSchema = z.strictObject({ publicKey: hexBytes(32), value: signature });

/** API request bodies. */
export const DescriptorUploadSchema = z.strictObject({ descriptor: SignedDescriptorSchema });
export const ReportUploadSchema = z.strictObject({ report: SignedReportSchema });
