/**
 * Bad-server isolation (AnonPoP §2 "Mix selection", §5.2, Claim 4) from signed loop reports.
 *
 * A report names one link `from → to`, where `from` is always the reporter (a node vouches only for its own
 * links: its loops that went out over that link came back too rarely, src/directory/evidence.ts). For the
 * document of epoch E the authorities count the reports filed in epochs E − 1 − ttl .. E − 2 (one whole epoch
 * old at least, so every authority has them by the vote, src/directory/authority.ts):
 *
 *  - every reported link is removed: no path uses it this epoch;
 *  - a node named as `to` by more than f distinct reporters is excluded: no path uses it at all.
 *
 * With at most f corrupt nodes, at least one of more than f reporters is honest, so an excluded node really
 * dropped loops (up to the test's α); f colluding nodes can remove only their own links (each false report
 * disconnects a corrupt node from an honest one), never exclude an honest node (Claim 4).
 */
import type { IsolationParams, Link, ReportBody } from './schemas.js';

export interface IsolationResult {
  removedLinks: Link[];
  excluded: string[];
  evidence: { link: Link; reporters: string[] }[];
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether a report filed in `filed` counts for the document of `epoch`. */
export function reportInForce(filed: number, epoch: number, p: Pick<IsolationParams, 'ttlEpochs'>): boolean {
  return filed <= epoch - 2 && filed >= epoch - 1 - p.ttlEpochs;
}

/** `known`: node ids of the document; reports about other nodes are ignored. */
export function computeIsolation(
  epoch: number,
  reports: readonly ReportBody[],
  p: IsolationParams,
  known: ReadonlySet<string>,
): IsolationResult {
  const links = new Map<string, Link>();
  const reportersOf = new Map<string, Set<string>>();
  for (const r of reports) {
    if (!reportInForce(r.epoch, epoch, p) || !known.has(r.link.from) || !known.has(r.link.to)) continue;
    links.set(`${r.link.from}>${r.link.to}`, { from: r.link.from, to: r.link.to });
    const set = reportersOf.get(r.link.to) ?? new Set<string>();
    set.add(r.link.from);
    reportersOf.set(r.link.to, set);
  }
  const removedLinks = [...links.values()].sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to));
  const excluded = [...reportersOf]
    .filter(([, s]) => s.size > p.f)
    .map(([id]) => id)
    .sort(cmp);
  return { removedLinks, excluded, evidence: removedLinks.map((link) => ({ link, reporters: [link.from] })) };
}
