/**
 * Per-link loop statistics (AnonPoP §5.2 "Bad Server Isolation" over the loops of Loopix §4.2.1): for every
 * link `from>to` a loop went over, how many loops over it became due and how many of those came back. A
 * sender's own links (`self>next`) are what it may report to the directory authorities
 * (src/directory/reporter.ts): which next hop its lost loops went through.
 *
 * The loop monitor (src/loops/monitor.ts) keeps one LinkTally beside its per-node tally and feeds it the
 * links each loop took; this module is only the link half, so the monitor stays about its window and alarm.
 * Runtime-neutral, like the monitor.
 */

/** Loops that were due over one link (or through one node), and how many of those came back. */
export interface PathCounts {
  due: number;
  returned: number;
}

/** The key of a link: `from>to` with the two node ids (hex). */
export function linkKey(from: string, to: string): string {
  return `${from}>${to}`;
}

/** The (from, to) node ids of a link key. */
export function linkEnds(key: string): { from: string; to: string } {
  const i = key.indexOf('>');
  return { from: key.slice(0, i), to: key.slice(i + 1) };
}

/**
 * The links of a loop sent by `senderId` over `pathIds` (the nodes it visits in order, ending where it comes
 * back: its sender for a node's loop). Duplicates are kept once.
 */
export function loopLinks(senderId: string, pathIds: readonly string[]): string[] {
  const ids = [senderId, ...pathIds];
  const links = new Set<string>();
  for (let i = 1; i < ids.length; i++) links.add(linkKey(ids[i - 1]!, ids[i]!));
  return [...links];
}

/** Adds one loop's links to a tally's link counts (`field`: it became due, or it came back). */
export function countLinks(
  tally: { links?: Record<string, PathCounts> },
  links: readonly string[],
  field: keyof PathCounts,
): void {
  for (const link of links) {
    const c = ((tally.links ??= {})[link] ??= { due: 0, returned: 0 });
    c[field]++;
  }
}

/** A copy of a tally's link counts (undefined when it has none: senders that do not count links). */
export function copyLinks(
  links: Readonly<Record<string, PathCounts>> | undefined,
): Record<string, PathCounts> | undefined {
  let out: Record<string, PathCounts> | undefined;
  for (const [key, c] of Object.entries(links ?? {})) (out ??= {})[key] = { ...c };
  return out;
}
