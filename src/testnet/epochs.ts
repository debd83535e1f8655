/**
 * The testnet's view of its directory (it signs nothing: the authorities do, src/testnet/authorities.ts).
 * Every `pollMs` it asks the authorities, like a client would, for the current epoch's document (k of n
 * signatures) and for the reports they hold, and records for the summary: which epochs' documents were
 * published, when each link was first reported, and when each node was first excluded (the start of the
 * first epoch whose document excludes it — the moment clients and nodes stop using it).
 */
import type { AuthorityEntry } from '../directory/config.js';
import { epochAtMs, epochStartMs } from '../directory/document.js';
import { DirectoryFetcher } from '../directory/fetcher.js';

export interface ReportSeen {
  readonly from: string;
  readonly to: string;
  /** Unix ms the orchestrator first saw it at an authority. */
  readonly seenAtMs: number;
  readonly epoch: number;
  readonly due: number;
  readonly returned: number;
}

export interface ExclusionSeen {
  readonly node: string;
  readonly epoch: number;
  /** Unix ms at which that epoch (the first excluding it) began. */
  readonly fromMs: number;
}

export class DirectoryWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly fetcher: DirectoryFetcher;
  readonly epochs: number[] = [];
  readonly reports = new Map<string, ReportSeen>();
  readonly exclusions = new Map<string, ExclusionSeen>();
  private busy = false;

  constructor(
    private readonly o: {
      authorities: readonly AuthorityEntry[];
      threshold: number;
      epochLengthS: number;
      genesisEpoch: number;
      genesisMs: number;
      onExcluded?: (e: ExclusionSeen) => void;
      pollMs?: number;
    },
  ) {
    this.fetcher = new DirectoryFetcher({ authorities: o.authorities, threshold: o.threshold, timeoutMs: 2000 });
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.o.pollMs ?? 500);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      const epoch = epochAtMs(this.o, now);
      if (epoch >= this.o.genesisEpoch && !this.epochs.includes(epoch)) {
        try {
          const doc = await this.fetcher.document(epoch);
          this.epochs.push(epoch);
          for (const node of doc.directory.excluded) {
            if (this.exclusions.has(node)) continue;
            const e = { node, epoch, fromMs: epochStartMs(this.o, epoch) };
            this.exclusions.set(node, e);
            this.o.onExcluded?.(e);
          }
        } catch {
          // not published (yet): the next poll asks again
        }
      }
      for (const a of this.o.authorities) {
        try {
          const res = await fetch(`${a.url}/v1/sync`, { signal: AbortSignal.timeout(2000) });
          if (!res.ok) continue;
          const sync = (await res.json()) as {
            reports: { body: { epoch: number; link: { from: string; to: string }; due: number; returned: number } }[];
          };
          for (const r of sync.reports) {
            const key = `${r.body.link.from}>${r.body.link.to}`;
            if (!this.reports.has(key))
              this.reports.set(key, {
                ...r.body.link,
                seenAtMs: Date.now(),
                epoch: r.body.epoch,
                due: r.body.due,
                returned: r.body.returned,
              });
          }
          break;
        } catch {
          // this authority is down: try the next
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
