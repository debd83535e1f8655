/**
 * One directory authority's state and clock (the HTTP front is src/directory/server.ts).
 *
 * Per epoch E (length L, vote lead V, default L/2), modelled on Katzenpost's voting authorities but without
 * a separate vote document — the inputs are signed by the nodes themselves, so exchanging the inputs is
 * the vote:
 *
 *  1. Nodes upload signed descriptors (src/directory/descriptor.ts) and loop reports
 *     (src/directory/report.ts) to every authority; authorities also pull each other's every
 *     `syncIntervalMs`, verifying every object again, so one that missed an upload catches up.
 *  2. At start(E) − V each authority builds the document for E from what it holds — deterministically
 *     (src/directory/document.ts) — and signs it. It never rebuilds it.
 *  3. The pulls also carry the authorities' signatures; a peer's signature is kept when it verifies over the
 *     bytes this authority signed. Every authority serves its document with every signature it has: valid
 *     once it has k.
 *
 * Authorities that held different inputs at the vote sign different documents; each gets only the
 * signatures of those that agree, and clients accept whichever has k (with k > n/2 at most one can).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LoopixError } from '../errors.js';
import { makeGeometry } from '../geometry.js';
import type { DirectoryDocument, TopologyBody } from '../topology/types.js';
import type { AuthorityConfig } from './config.js';
import { defaultThreshold } from './config.js';
import { checkDescriptor, newerDescriptor, type DescriptorRules } from './descriptor.js';
import {
  buildDocumentBody,
  documentSignatureValid,
  epochAtMs,
  epochStartMs,
  signDocument,
  type DirectoryTrust,
  type NetworkConstants,
} from './document.js';
import { nodeIdFor, type IdentityKey } from './identity.js';
import { reportInForce } from './isolation.js';
import { checkReport, type ReportRules } from './report.js';
import { SignedDescriptorSchema, SignedReportSchema, type SignedDescriptor, type SignedReport } from './schemas.js';

/** What one authority hands a peer on GET /v1/sync. */
export interface SyncPayload {
  readonly descriptors: readonly SignedDescriptor[];
  readonly reports: readonly SignedReport[];
  readonly signatures: readonly { epoch: number; publicKey: string; value: string }[];
}

interface HeldDocument {
  readonly body: TopologyBody;
  readonly signatures: Map<string, string>;
}

/** Epochs of documents kept (and served) behind the current one. */
const KEEP_EPOCHS = 4;

export class Authority {
  readonly constants: NetworkConstants;
  readonly trust: DirectoryTrust;
  private readonly descriptors = new Map<string, SignedDescriptor>();
  private readonly reports = new Map<string, SignedReport>();
  private readonly documents = new Map<number, HeldDocument>();
  private readonly buildErrors = new Map<number, string>();
  private readonly descriptorRules: DescriptorRules;
  private readonly knownIds: Set<string>;
  private readonly voteLeadMs: number;
  private readonly stateFile: string;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: AuthorityConfig,
    readonly key: IdentityKey,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    const n = config.network;
    const g = makeGeometry(n.geometry);
    this.constants = {
      geometry: { maxHops: g.maxHops, addressBytes: g.addressBytes, contentBytes: g.contentBytes },
      layers: n.layers,
      epochLengthS: n.epochLengthS,
      genesisEpoch: n.genesisEpoch,
      genesisMs: n.genesisMs,
      isolation: n.isolation,
    };
    const threshold = config.threshold ?? defaultThreshold(config.authorities.length);
    if (threshold > config.authorities.length)
      throw new LoopixError(
        'ERR_LOOPIX_DIRECTORY_CONFIG',
        `threshold: ${threshold} exceeds the ${config.authorities.length} authorities`,
        { field: 'threshold' },
      );
    if (!config.authorities.some((a) => a.publicKey === key.publicKey)) {
      throw new LoopixError(
        'ERR_LOOPIX_DIRECTORY_CONFIG',
        `authorities: this authority's key ${key.publicKey} is not listed`,
        { field: 'authorities' },
      );
    }
    this.trust = { authorities: config.authorities.map((a) => a.publicKey).sort(), threshold };
    const registered = new Map(config.nodes.map((x) => [x.identityKey, x.name] as const));
    this.descriptorRules = { registered, addressBytes: g.addressBytes, layers: n.layers };
    this.knownIds = new Set(config.nodes.map((x) => nodeIdFor(x.identityKey, g.addressBytes)));
    this.voteLeadMs = (config.voteLeadS ?? n.epochLengthS / 2) * 1000;
    this.stateFile = join(config.dataDir, 'state.json');
    mkdirSync(config.dataDir, { recursive: true });
    this.restore();
  }

  get currentEpoch(): number {
    return epochAtMs(this.constants, this.clock());
  }

  /** When the document of `epoch` is built and signed (unix ms). */
  voteAtMs(epoch: number): number {
    return Math.max(epochStartMs(this.constants, epoch) - this.voteLeadMs, this.config.network.firstVoteMs ?? 0);
  }

  private reportRules(min: number, max: number): ReportRules {
    return {
      ...this.descriptorRules,
      isolation: this.constants.isolation,
      knownIds: this.knownIds,
      epochs: { min, max },
    };
  }

  /** An uploaded descriptor; throws a LoopixError (nothing stored) when it is refused. */
  acceptDescriptor(input: unknown): { stored: boolean } {
    const d = checkDescriptor(input, this.descriptorRules);
    return { stored: this.keepDescriptor(d) };
  }

  /** An uploaded report: filed in the current epoch (or the previous one, early in an epoch); throws a LoopixError (nothing stored) when refused. */
  acceptReport(input: unknown): { stored: boolean } {
    // The previous epoch's reports too during the first quarter of an epoch (clocks differ a little at the
    // boundary): a report filed in X counts from the vote for X + 2, at least a quarter epoch later.
    const now = this.currentEpoch;
    const early = this.clock() < epochStartMs(this.constants, now) + (this.constants.epochLengthS * 1000) / 4;
    const r = checkReport(input, this.reportRules(early ? now - 1 : now, now));
    return { stored: this.keepReport(r) };
  }

  private keepDescriptor(d: SignedDescriptor): boolean {
    const held = this.descriptors.get(d.body.identityKey);
    if (held && !newerDescriptor(d, held)) return false;
    this.descriptors.set(d.body.identityKey, d);
    this.scheduleSave();
    return true;
  }

  private keepReport(r: SignedReport): boolean {
    const key = `${r.body.epoch}|${r.body.link.from}>${r.body.link.to}`;
    const held = this.reports.get(key);
    if (
      held &&
      (held.body.issuedAtMs > r.body.issuedAtMs ||
        (held.body.issuedAtMs === r.body.issuedAtMs && held.signature >= r.signature))
    )
      return false;
    this.reports.set(key, r);
    this.log.info(
      { epoch: r.body.epoch, from: r.body.link.from, to: r.body.link.to, due: r.body.due, returned: r.body.returned },
      'loop report stored',
    );
    this.scheduleSave();
    return true;
  }

  /** The document of `epoch` with every valid signature held, or undefined before the vote. */
  document(epoch: number): DirectoryDocument | undefined {
    const d = this.documents.get(epoch);
    if (!d) return undefined;
    const signatures = [...d.signatures]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([publicKey, value]) => ({ publicKey, value }));
    return { ...(d.body as DirectoryDocument), signatures };
  }

  status(): object {
    const epoch = this.currentEpoch;
    return {
      publicKey: this.key.publicKey,
      epoch,
      epochLengthS: this.constants.epochLengthS,
      genesisEpoch: this.constants.genesisEpoch,
      genesisMs: this.constants.genesisMs,
      threshold: this.trust.threshold,
      authorities: this.trust.authorities.length,
      descriptors: this.descriptors.size,
      reports: this.reports.size,
      documents: [...this.documents].map(([e, d]) => ({
        epoch: e,
        signatures: d.signatures.size,
        excluded: (d.body.directory?.excluded ?? []).length,
      })),
      buildErrors: Object.fromEntries(this.buildErrors),
    };
  }

  syncPayload(): SyncPayload {
    const signatures: { epoch: number; publicKey: string; value: string }[] = [];
    for (const [epoch, d] of this.documents)
      for (const [publicKey, value] of d.signatures) signatures.push({ epoch, publicKey, value });
    return { descriptors: [...this.descriptors.values()], reports: [...this.reports.values()], signatures };
  }

  /** Merges a peer's sync payload; every object is verified as if uploaded. Returns what was new. */
  mergePeer(payload: unknown): { descriptors: number; reports: number; signatures: number } {
    const out = { descriptors: 0, reports: 0, signatures: 0 };
    const p = payload as Partial<SyncPayload> | null;
    if (!p || typeof p !== 'object') return out;
    const now = this.currentEpoch;
    const rules = this.reportRules(now - 1 - this.constants.isolation.ttlEpochs, now);
    for (const d of Array.isArray(p.descriptors) ? p.descriptors : []) {
      // Already held (the usual case): skip the signature check.
      const held =
        (d as SignedDescriptor)?.body?.identityKey !== undefined
          ? this.descriptors.get((d as SignedDescriptor).body.identityKey)
          : undefined;
      if (held && held.signature === (d as SignedDescriptor).signature) continue;
      try {
        if (this.keepDescriptor(checkDescriptor(SignedDescriptorSchema.parse(d), this.descriptorRules)))
          out.descriptors++;
      } catch {
        // a bad object from a peer is skipped, like a bad upload
      }
    }
    for (const r of Array.isArray(p.reports) ? p.reports : []) {
      const b = (r as SignedReport)?.body;
      if (
        b?.link &&
        this.reports.get(`${b.epoch}|${b.link.from}>${b.link.to}`)?.signature === (r as SignedReport).signature
      )
        continue;
      try {
        if (this.keepReport(checkReport(SignedReportSchema.parse(r), rules))) out.reports++;
      } catch {
        // skipped
      }
    }
    for (const raw of (Array.isArray(p.signatures) ? p.signatures : []) as unknown[]) {
      const s = raw as { epoch?: unknown; publicKey?: unknown; value?: unknown } | null;
      if (
        !s ||
        typeof s !== 'object' ||
        typeof s.publicKey !== 'string' ||
        typeof s.value !== 'string' ||
        typeof s.epoch !== 'number'
      )
        continue;
      const d = this.documents.get(s.epoch);
      if (!d || d.signatures.has(s.publicKey) || !this.trust.authorities.includes(s.publicKey)) continue;
      if (!documentSignatureValid(d.body, { publicKey: s.publicKey, value: s.value })) continue; // the peer signed other bytes: it disagrees
      d.signatures.set(s.publicKey, s.value);
      out.signatures++;
      this.scheduleSave();
    }
    return out;
  }

  /** The clock: build and sign the documents whose vote time has passed; forget old state. */
  tick(): void {
    const now = this.clock();
    const current = this.currentEpoch;
    for (const epoch of [current, current + 1]) {
      if (this.documents.has(epoch) || now < this.voteAtMs(epoch)) continue;
      this.vote(epoch);
    }
    for (const e of this.documents.keys()) if (e < current - KEEP_EPOCHS) this.documents.delete(e);
    for (const e of this.buildErrors.keys()) if (e < current) this.buildErrors.delete(e);
    for (const [k, r] of this.reports)
      if (!reportInForce(r.body.epoch, current + 2, this.constants.isolation) && r.body.epoch < current)
        this.reports.delete(k);
  }

  private vote(epoch: number): void {
    const until = this.config.network.bootstrapUntilMs;
    if (until !== undefined && this.clock() < until && this.descriptors.size < this.config.nodes.length) {
      const message = `bootstrap: ${this.descriptors.size} of ${this.config.nodes.length} registered nodes announced; waiting for all until ${new Date(until).toISOString()}`;
      if (this.buildErrors.get(epoch) !== message) this.log.info({ epoch }, message);
      this.buildErrors.set(epoch, message);
      return;
    }
    let body: TopologyBody;
    try {
      body = buildDocumentBody(
        this.constants,
        this.trust,
        epoch,
        [...this.descriptors.values()].map((d) => d.body),
        [...this.reports.values()].map((r) => r.body),
      );
    } catch (err) {
      const message = (err as Error).message;
      if (this.buildErrors.get(epoch) !== message)
        this.log.warn({ epoch, err: message }, 'cannot build the document yet (retrying every tick)');
      this.buildErrors.set(epoch, message);
      return;
    }
    this.buildErrors.delete(epoch);
    const own = signDocument(body, this.key);
    this.documents.set(epoch, { body, signatures: new Map([[own.publicKey, own.value]]) });
    const dir = body.directory!;
    this.log.info(
      { epoch, nodes: body.nodes.length, removedLinks: dir.removedLinks.length, excluded: dir.excluded },
      'document built and signed',
    );
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 100);
    this.saveTimer.unref();
  }

  /** Writes the state atomically (tmp + rename). */
  save(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const state = {
      descriptors: [...this.descriptors.values()],
      reports: [...this.reports.values()],
      documents: [...this.documents].map(([epoch, d]) => ({
        epoch,
        body: d.body,
        signatures: Object.fromEntries(d.signatures),
      })),
    };
    const tmp = `${this.stateFile}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, this.stateFile);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not save the authority state');
    }
  }

  /** Reloads the saved state, verifying every object again (a damaged file loses only what fails). */
  private restore(): void {
    let text: string;
    try {
      text = readFileSync(this.stateFile, 'utf8');
    } catch {
      return;
    }
    let state: {
      descriptors?: unknown[];
      reports?: unknown[];
      documents?: { epoch: number; body: TopologyBody; signatures: Record<string, string> }[];
    };
    try {
      state = JSON.parse(text) as typeof state;
    } catch (err) {
      this.log.error(
        { file: this.stateFile, err: (err as Error).message },
        'authority state is not JSON; starting empty (peers refill it)',
      );
      return;
    }
    this.mergePeer({ descriptors: state.descriptors ?? [], reports: state.reports ?? [], signatures: [] });
    for (const d of state.documents ?? []) {
      const own = d.signatures?.[this.key.publicKey];
      if (!own || !documentSignatureValid(d.body, { publicKey: this.key.publicKey, value: own })) continue;
      const signatures = new Map<string, string>();
      for (const [k, v] of Object.entries(d.signatures))
        if (this.trust.authorities.includes(k) && documentSignatureValid(d.body, { publicKey: k, value: v }))
          signatures.set(k, v);
      this.documents.set(d.epoch, { body: d.body, signatures });
    }
    this.log.info(
      { descriptors: this.descriptors.size, reports: this.reports.size, documents: this.documents.size },
      'authority state restored',
    );
  }
}
