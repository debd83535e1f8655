/**
 * Which node do lost loops go through? Every loop's sender knows its path and counts, per node on it, the
 * loops that became due and those that came back (src/node/loops.ts "Attribution"). This module adds up
 * those counts over all senders — mixes, providers, clients — and compares, for each node X, the loops
 * through X with the loops that avoided X.
 *
 * Why the comparison, not the fraction alone: loss spread over the network (congestion, AQM drops, a drain
 * cut short) lowers every node's fraction alike, while a node that stopped answering (or drops, the (n-1)
 * adversary of Loopix §4.2.1) lowers only the fraction of the loops through it. A node is a `suspect` when its
 * loops return significantly less often than the loops avoiding it: a one-sided two-proportion z-test at
 * `zCritical` (default 3.09, p ≈ 0.001), with at least `minDue` due loops on each side.
 *
 * "Avoiding X" is exact, not estimated: a loop passes through each node at most once (sender excluded,
 * duplicates removed at the sender), so per sender the loops avoiding X are its total minus those through X.
 * A sender's loops never count for or against itself.
 */
import type { PathCounts, PathTally } from '../node/loops.js';

/** One sender's counts (one node process incarnation, or one client). */
export interface LoopObservation {
  /** Node id of a mix/provider sender; anything unique (a client address) for a client. */
  readonly sender: string;
  readonly tally: PathTally;
}

export interface LoopPathRow {
  readonly id: string;
  readonly name: string;
  /** Loops through this node that were due, and of those how many came back. */
  readonly due: number;
  readonly returned: number;
  /** returned / due, or null with none due. */
  readonly fraction: number | null;
  /** The same for every loop (of senders other than this node) that did not pass through it. */
  readonly avoiding: PathCounts & { readonly fraction: number | null };
  /** Two-proportion z statistic, avoiding minus through (positive: loops through it fare worse); null when undefined. */
  readonly z: number | null;
  readonly suspect: boolean;
}

export interface LoopPathReport {
  /** Every node, worst return fraction first (nodes with no due loops last). */
  readonly rows: readonly LoopPathRow[];
  /** Name of the first row with due loops, or null. */
  readonly worst: string | null;
  /** Names of the suspects, worst first. */
  readonly suspects: readonly string[];
  readonly loops_due: number;
  readonly loops_returned: number;
}

export interface LoopReportOptions {
  /** One-sided critical z (default 3.09: p ≈ 0.001). */
  readonly zCritical?: number;
  /** Fewest due loops through the node, and avoiding it, for a verdict (default 5, the alarm's minimum). */
  readonly minDue?: number;
}

/** returned / due to 4 decimals (a readable summary), null with none due. */
const fraction = (c: PathCounts): number | null => (c.due > 0 ? Math.round((c.returned / c.due) * 1e4) / 1e4 : null);

/** z for H1: p(avoiding) > p(through), pooled standard error; null when either side is empty or p is 0 or 1. */
export function twoProportionZ(through: PathCounts, avoiding: PathCounts): number | null {
  if (through.due === 0 || avoiding.due === 0) return null;
  const pooled = (through.returned + avoiding.returned) / (through.due + avoiding.due);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / through.due + 1 / avoiding.due));
  if (se === 0) return null;
  return (avoiding.returned / avoiding.due - through.returned / through.due) / se;
}

/**
 * @param names node id → name (ids without a name are reported by id); every named node gets a row, even
 *   with no loops through it.
 */
export function loopPathReport(
  observations: readonly LoopObservation[],
  names: ReadonlyMap<string, string>,
  o: LoopReportOptions = {},
): LoopPathReport {
  const zCritical = o.zCritical ?? 3.09;
  const minDue = o.minDue ?? 5;
  const ids = new Set(names.keys());
  for (const ob of observations) for (const id of Object.keys(ob.tally.through)) ids.add(id);
  let loopsDue = 0;
  let loopsReturned = 0;
  for (const ob of observations) {
    loopsDue += ob.tally.due;
    loopsReturned += ob.tally.returned;
  }
  const rows: LoopPathRow[] = [];
  for (const id of ids) {
    const through = { due: 0, returned: 0 };
    const avoiding = { due: 0, returned: 0 };
    for (const ob of observations) {
      const t = ob.tally.through[id] ?? { due: 0, returned: 0 };
      through.due += t.due;
      through.returned += t.returned;
      if (ob.sender === id) continue;
      avoiding.due += ob.tally.due - t.due;
      avoiding.returned += ob.tally.returned - t.returned;
    }
    const z = twoProportionZ(through, avoiding);
    const suspect = z !== null && z >= zCritical && through.due >= minDue && avoiding.due >= minDue;
    rows.push({
      id,
      name: names.get(id) ?? id,
      due: through.due,
      returned: through.returned,
      fraction: fraction(through),
      avoiding: { ...avoiding, fraction: fraction(avoiding) },
      z: z === null ? null : Math.round(z * 100) / 100,
      suspect,
    });
  }
  rows.sort(
    (a, b) => (a.fraction ?? Infinity) - (b.fraction ?? Infinity) || b.due - a.due || a.name.localeCompare(b.name),
  );
  const worst = rows[0]?.fraction !== null && rows[0] ? rows[0].name : null;
  return {
    rows,
    worst,
    suspects: rows.filter((r) => r.suspect).map((r) => r.name),
    loops_due: loopsDue,
    loops_returned: loopsReturned,
  };
}
