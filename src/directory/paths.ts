/**
 * Uniform path choice around removed links and excluded nodes (AnonPoP §2 "Mix selection": clients and
 * servers choose paths uniformly among all valid paths). A path takes one node from each of its candidate
 * lists in order; it is valid when every consecutive pair is a usable link (TopologyIndex.usable). The number
 * of valid completions from every candidate is counted backwards (dynamic programming over the layers), then
 * each step draws a next node with probability proportional to its completions — which makes every valid
 * path exactly equally likely. Cost O(Σ |layer i| · |layer i+1|) per path: a few hundred steps for 3 layers
 * of 10.
 */
import type { NodeEntry } from '../topology/types.js';

export type Usable = (from: string, to: string) => boolean;

/**
 * A uniformly random valid path through `stages` (each a non-empty candidate list), or null when no valid
 * path exists. `random()` is uniform in [0, 1). `start` (optional) is a node before the first stage (a loop's
 * sender), whose link into the first stage must be usable too.
 */
export function uniformValidPath(
  stages: readonly (readonly NodeEntry[])[],
  usable: Usable,
  random: () => number,
  start?: NodeEntry,
): NodeEntry[] | null {
  const n = stages.length;
  if (n === 0) return [];
  // counts[i][j]: valid completions of a path that is at stages[i][j].
  const counts: number[][] = new Array<number[]>(n);
  counts[n - 1] = stages[n - 1]!.map(() => 1);
  for (let i = n - 2; i >= 0; i--) {
    counts[i] = stages[i]!.map((a) =>
      stages[i + 1]!.reduce((sum, b, k) => sum + (usable(a.id, b.id) ? counts[i + 1]![k]! : 0), 0),
    );
  }
  const draw = (candidates: readonly NodeEntry[], weights: readonly number[]): number => {
    const total = weights.reduce((a, b) => a + b, 0);
    if (total === 0) return -1;
    let x = random() * total;
    for (let k = 0; k < weights.length; k++) {
      x -= weights[k]!;
      if (x < 0 && weights[k]! > 0) return k;
    }
    for (let k = weights.length - 1; k >= 0; k--) if (weights[k]! > 0) return k;
    return -1;
  };
  const path: NodeEntry[] = [];
  let prev = start;
  for (let i = 0; i < n; i++) {
    const stage = stages[i]!;
    const weights = stage.map((b, k) => (prev === undefined || usable(prev.id, b.id) ? counts[i]![k]! : 0));
    const k = draw(stage, weights);
    if (k < 0) return null;
    path.push(stage[k]!);
    prev = stage[k]!;
  }
  return path;
}
