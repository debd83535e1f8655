/**
 * The node's half of bad-server isolation (AnonPoP §5.2 over Loopix §4.2.1 loops): every second it looks at
 * the loop window's per-link counts (src/loops/link-stats.ts, kept by src/loops/monitor.ts) for the node's own links `self → next` and files a
 * signed report naming a link when
 *
 *  1. the link's loops reject "return fraction ≥ p0" by the one-sided exact binomial test at level α on at
 *     least minDue due loops (src/directory/evidence.ts; the authorities check this again), and
 *  2. the node's loops over its other next hops (at least minDue of them) return more: the link's loops
 *     also reject "return fraction ≥ that of the other links" at α — so loss further down the path, or
 *     loops made late by congestion, which every first hop shares, is not blamed on the next hop. A node
 *     with a single next hop never reports.
 *
 * The evidence is the loops that became due over the last `evidenceWindowS` (cumulative counts minus a
 * snapshot that old, one snapshot per check): long enough to hold tens of loops per link at λM, short enough
 * that a link that recovered stops being reported. At most one report per link per epoch; it goes to every
 * authority.
 */
import type { IsolationParams } from './schemas.js';
import { isReportable, lossPValue } from './evidence.js';
import type { IdentityKey } from './identity.js';
import { signReport } from './report.js';
import type { PathCounts, PathTally } from '../node/loops.js';
import type { DirectoryFetcher } from './fetcher.js';

export interface ReporterOptions {
  readonly selfId: string;
  readonly identity: IdentityKey;
  readonly fetcher: Pick<DirectoryFetcher, 'uploadAll'>;
  /** The loop monitor's cumulative tally since start (undefined: no loops). */
  readonly total: () => PathTally | undefined;
  /** Seconds of loops the evidence covers. */
  readonly evidenceWindowS: number;
  /** The current document's isolation parameters (undefined: a document without them). */
  readonly params: () => IsolationParams | undefined;
  readonly epoch: () => number;
  readonly count: (name: 'loop_reports_filed', by?: number) => void;
  readonly log: { warn(o: object, m: string): void; error(o: object, m: string): void };
  readonly now?: () => number;
}

/** The links of `self` whose window counts call for a report (the two tests of the module comment). */
export function linksToReport(
  selfId: string,
  links: Readonly<Record<string, PathCounts>>,
  p: IsolationParams,
): { to: string; due: number; returned: number }[] {
  const own = Object.entries(links).filter(([k]) => k.startsWith(`${selfId}>`));
  const out: { to: string; due: number; returned: number }[] = [];
  for (const [k, c] of own) {
    if (!isReportable(c.due, c.returned, p)) continue;
    let due = 0,
      returned = 0;
    for (const [k2, c2] of own) {
      if (k2 === k) continue;
      due += c2.due;
      returned += c2.returned;
    }
    // Without another next hop to compare with, loss at the next hop cannot be told from loss further on
    // (or from loops made late by congestion): no report.
    if (due < p.minDue || lossPValue(c.due, c.returned, Math.min(1 - 1e-9, returned / due)) >= p.alpha) continue;
    out.push({ to: k.slice(selfId.length + 1), due: c.due, returned: c.returned });
  }
  return out;
}

export class LoopReporter {
  private readonly filed = new Set<string>();
  /** Own links' cumulative counts, one snapshot per check, oldest first. */
  private readonly snapshots: { at: number; links: Record<string, PathCounts> }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ReporterOptions) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<number> {
    const p = this.o.params();
    const tally = this.o.total();
    if (!p || !tally?.links) return 0;
    const now = (this.o.now ?? Date.now)();
    const own: Record<string, PathCounts> = {};
    for (const [k, c] of Object.entries(tally.links)) if (k.startsWith(`${this.o.selfId}>`)) own[k] = { ...c };
    this.snapshots.push({ at: now, links: own });
    while (this.snapshots.length > 1 && this.snapshots[1]!.at <= now - this.o.evidenceWindowS * 1000)
      this.snapshots.shift();
    const base = this.snapshots[0]!.at <= now - this.o.evidenceWindowS * 1000 ? this.snapshots[0]!.links : {};
    const evidence: Record<string, PathCounts> = {};
    for (const [k, c] of Object.entries(own))
      evidence[k] = { due: c.due - (base[k]?.due ?? 0), returned: c.returned - (base[k]?.returned ?? 0) };
    const epoch = this.o.epoch();
    let filed = 0;
    for (const l of linksToReport(this.o.selfId, evidence, p)) {
      const key = `${epoch}|${l.to}`;
      if (this.filed.has(key)) continue;
      this.filed.add(key);
      const report = signReport(
        {
          version: 1,
          epoch,
          reporterKey: this.o.identity.publicKey,
          link: { from: this.o.selfId, to: l.to },
          due: l.due,
          returned: l.returned,
          issuedAtMs: (this.o.now ?? Date.now)(),
        },
        this.o.identity,
      );
      const results = await this.o.fetcher.uploadAll('/v1/report', { report });
      const accepted = results.filter((r) => r.ok).length;
      this.o.count('loop_reports_filed');
      filed++;
      this.o.log.warn(
        {
          epoch,
          link: `${this.o.selfId}>${l.to}`,
          due: l.due,
          returned: l.returned,
          p_value: lossPValue(l.due, l.returned, p.expectedFraction),
          accepted,
          refused: results.filter((r) => !r.ok).map((r) => `${r.url}: ${r.status} ${r.message}`),
        },
        'loops over this link return too rarely: signed loop report filed with the authorities (AnonPoP §5.2)',
      );
    }
    return filed;
  }
}
