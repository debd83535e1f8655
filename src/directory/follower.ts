/**
 * Keeps a node or client on the authorities' documents (the half of the directory that runs everywhere):
 *
 *  - from the middle of each epoch on it asks for the next epoch's document (retrying with exponential
 *    back-off from 250 ms up to an eighth of an epoch, each attempt going through the authorities in a
 *    random order), verifies k of n signatures, and keeps it until its epoch begins, then adopts it;
 *  - a node or client that is behind (after a restart or an outage) asks for the current epoch's document;
 *  - every adopted document is written to `cacheFile` (atomically): the last valid document survives
 *    restarts, and a node or client starts from it when the authorities are unreachable;
 *  - a document expires when the epoch after next begins (it carries keys for its epoch and the next). When
 *    the held one expires with no newer one to be had, `onExpired` is told why, once.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { TopologyIndex } from '../topology/document.js';
import type { DirectoryFetcher } from './fetcher.js';

export interface FollowerOptions {
  readonly fetcher: DirectoryFetcher;
  readonly cacheFile: string;
  /** The document in use at start. */
  readonly current: TopologyIndex;
  /** A newer document begins (its epoch started); may throw to refuse it (logged). */
  readonly onAdopt: (index: TopologyIndex) => void;
  /** The next epoch's document arrived (verified), before it is adopted. */
  readonly onFetched?: (index: TopologyIndex) => void;
  readonly onExpired: (reason: string) => void;
  readonly log: {
    info(o: object, m: string): void;
    warn(o: object, m: string): void;
    error(o: object, m: string): void;
  };
  /** Poll period, ms (default: an eighth of an epoch, 100..1000). */
  readonly pollMs?: number;
  readonly now?: () => number;
}

export function writeDocumentFile(file: string, doc: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, file);
}

export class DirectoryFollower {
  private current: TopologyIndex;
  private pending: TopologyIndex | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextAttemptAt = 0;
  private backoffMs = 250;
  private busy = false;
  private expired = false;
  private lastError = '';
  private readonly now: () => number;
  /** Fetch attempts that found no valid document, in a row. */
  failures = 0;

  constructor(private readonly o: FollowerOptions) {
    this.current = o.current;
    this.now = o.now ?? Date.now;
  }

  get document(): TopologyIndex {
    return this.current;
  }

  get isExpired(): boolean {
    return this.expired;
  }

  private get epochMs(): number {
    return (this.current.doc.epochLengthS ?? 60) * 1000;
  }

  start(): void {
    if (this.timer) return;
    const every = this.o.pollMs ?? Math.max(100, Math.min(1000, this.epochMs / 8));
    this.timer = setInterval(() => void this.poll(), every);
    this.timer.unref();
    void this.poll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One step of the schedule (also for tests). */
  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = this.now();
      this.adoptPending(now);
      const nowEpoch = this.current.epochAt(now);
      // Behind: the current epoch's document first. Else the next one, from the middle of this epoch on.
      const want = this.current.doc.epoch < nowEpoch ? nowEpoch : this.current.doc.epoch + 1;
      const due = this.current.doc.epoch < nowEpoch || now >= this.current.epochStart(want) - this.epochMs / 2;
      if (this.pending?.doc.epoch !== want && due && now >= this.nextAttemptAt) await this.fetch(want);
      this.adoptPending(this.now());
      if (!this.expired && this.now() >= this.current.expiresAtMs) {
        this.expired = true;
        const reason = `the document of epoch ${this.current.doc.epoch} expired at ${new Date(this.current.expiresAtMs).toISOString()} and no authority quorum (${this.o.fetcher.trust.threshold} of ${this.o.fetcher.trust.authorities.length}) served a newer one: ${this.lastError || 'no attempt succeeded'}`;
        this.o.log.error({ epoch: this.current.doc.epoch }, reason);
        this.o.onExpired(reason);
      }
    } finally {
      this.busy = false;
    }
  }

  private async fetch(epoch: number): Promise<void> {
    try {
      const doc = await this.o.fetcher.document(epoch, this.current.doc.epoch);
      const index = new TopologyIndex(doc);
      this.pending = index;
      this.failures = 0;
      this.backoffMs = 250;
      this.nextAttemptAt = 0;
      this.o.onFetched?.(index);
    } catch (err) {
      this.failures++;
      this.lastError = (err as Error).message;
      this.nextAttemptAt = this.now() + this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, Math.max(250, this.epochMs / 8));
      if (this.failures === 1 || this.failures % 20 === 0)
        this.o.log.warn(
          { epoch, attempts: this.failures, err: this.lastError },
          'no valid directory document yet; retrying',
        );
    }
  }

  private adoptPending(now: number): void {
    const p = this.pending;
    if (!p || now < p.epochStart(p.doc.epoch)) return;
    this.pending = undefined;
    try {
      writeDocumentFile(this.o.cacheFile, p.doc);
      this.o.onAdopt(p);
      this.current = p;
      if (this.expired) this.o.log.info({ epoch: p.doc.epoch }, 'a valid directory document again');
      this.expired = false;
    } catch (err) {
      this.o.log.error(
        { epoch: p.doc.epoch, err: (err as Error).message },
        'directory document not adopted; keeping the current one',
      );
    }
  }
}
