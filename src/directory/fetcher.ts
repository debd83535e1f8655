/**
 * Talking to the authorities from a node or a client: fetch an epoch's document from any authority (in a
 * random order, each request with a timeout), accept it only with k valid signatures of the n trusted ones,
 * upload signed objects to all of them. HTTP through Node's built-in fetch.
 */
import { LoopixError } from '../errors.js';
import type { DirectoryDocument } from '../topology/types.js';
import type { AuthorityEntry } from './config.js';
import { defaultThreshold } from './config.js';
import { verifyDirectoryDocument, type DirectoryTrust } from './document.js';

export interface Schedule {
  readonly epoch: number;
  readonly epochLengthS: number;
  readonly genesisEpoch: number;
  readonly genesisMs: number;
}

export interface FetcherOptions {
  readonly authorities: readonly AuthorityEntry[];
  readonly threshold?: number;
  readonly timeoutMs: number;
}

const base = (url: string) => url.replace(/\/$/, '');

export class DirectoryFetcher {
  readonly trust: DirectoryTrust;

  constructor(private readonly o: FetcherOptions) {
    const threshold = o.threshold ?? defaultThreshold(o.authorities.length);
    if (threshold > o.authorities.length)
      throw new LoopixError(
        'ERR_LOOPIX_DIRECTORY_CONFIG',
        `directory.threshold ${threshold} exceeds the ${o.authorities.length} authorities listed`,
        { field: 'directory.threshold' },
      );
    this.trust = { authorities: o.authorities.map((a) => a.publicKey), threshold };
  }

  private shuffled(): AuthorityEntry[] {
    const list = [...this.o.authorities];
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    return list;
  }

  /**
   * The document of `epoch` with k valid signatures, from the first authority (in random order) that has
   * one; throws ERR_LOOPIX_DIRECTORY_UNAVAILABLE naming each authority's answer when none has.
   */
  async document(epoch: number, minEpoch?: number): Promise<DirectoryDocument> {
    const reasons: string[] = [];
    for (const a of this.shuffled()) {
      try {
        const res = await fetch(`${base(a.url)}/v1/document/${epoch}`, {
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        if (!res.ok) {
          const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
          reasons.push(`${a.url}: HTTP ${res.status}${body?.error?.message ? ` (${body.error.message})` : ''}`);
          continue;
        }
        const doc = verifyDirectoryDocument((await res.json()) as DirectoryDocument, this.trust, { minEpoch });
        if (doc.epoch !== epoch)
          throw new LoopixError('ERR_LOOPIX_DIRECTORY_OLD_EPOCH', `asked for epoch ${epoch}, got ${doc.epoch}`, {
            field: 'epoch',
          });
        return doc;
      } catch (err) {
        reasons.push(`${a.url}: ${(err as Error).message}`);
      }
    }
    throw new LoopixError(
      'ERR_LOOPIX_DIRECTORY_UNAVAILABLE',
      `no valid document (${this.trust.threshold} of ${this.trust.authorities.length} signatures) for epoch ${epoch}: ${reasons.join('; ')}`,
    );
  }

  /** The epoch schedule from the first authority that answers (to know which keys to announce). */
  async schedule(): Promise<Schedule> {
    const reasons: string[] = [];
    for (const a of this.shuffled()) {
      try {
        const res = await fetch(`${base(a.url)}/v1/status`, { signal: AbortSignal.timeout(this.o.timeoutMs) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const s = (await res.json()) as Schedule;
        if (
          ![s.epoch, s.epochLengthS, s.genesisEpoch, s.genesisMs].every(
            (x) => typeof x === 'number' && Number.isFinite(x),
          )
        )
          throw new Error('malformed status');
        return s;
      } catch (err) {
        reasons.push(`${a.url}: ${(err as Error).message}`);
      }
    }
    throw new LoopixError('ERR_LOOPIX_DIRECTORY_UNAVAILABLE', `no authority answered: ${reasons.join('; ')}`);
  }

  /** POSTs `body` to `path` at every authority; resolves with each one's outcome (never rejects). */
  async uploadAll(
    path: string,
    body: unknown,
  ): Promise<{ url: string; ok: boolean; status: number; message: string }[]> {
    const text = JSON.stringify(body);
    return Promise.all(
      this.o.authorities.map(async (a) => {
        try {
          const res = await fetch(`${base(a.url)}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: text,
            signal: AbortSignal.timeout(this.o.timeoutMs),
          });
          const json = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
          return { url: a.url, ok: res.ok, status: res.status, message: json?.error?.message ?? '' };
        } catch (err) {
          return { url: a.url, ok: false, status: 0, message: (err as Error).message };
        }
      }),
    );
  }
}
