/** The Figure 4 sweep of `sim entropy`: mean outgoing-message entropy over λ for several µ, 50 runs each. */
import type { TopLevelSpec } from '../plot/svg.js';
import { linePlot } from '../plot/svg.js';
import { entropyLimit } from './entropy.js';
import { round, summarize } from './stats.js';
import { runTasks, valuesByPoint } from './sweep.js';
import { chunkReps, type SimTask } from './tasks.js';

/** Figure 4's axes: λ from 100 to 500 messages per time unit, µ ∈ {200, 20, 2, 0.2, 0.02}. */
export const PAPER_LAMBDAS = [100, 150, 200, 250, 300, 350, 400, 450, 500];
export const PAPER_MUS = [200, 20, 2, 0.2, 0.02];
export const PAPER_ENTROPY_RUNS = 50;

export interface EntropySweepOptions {
  readonly lambdas: readonly number[];
  readonly mus: readonly number[];
  readonly runs: number;
  readonly seed: number;
  readonly workers: number;
}

export interface EntropyPoint {
  readonly lambda: number;
  readonly mu: number;
  /** Mean over runs of each run's mean outgoing-message entropy, bits. */
  readonly entropy_mean: number;
  /** Standard deviation over runs, bits. */
  readonly entropy_sd: number;
  /** log₂(e·λ/µ), the large-pool limit (entropyLimit), bits. */
  readonly entropy_limit: number;
}

export async function entropySweep(o: EntropySweepOptions): Promise<EntropyPoint[]> {
  const grid = o.mus.flatMap((mu) => o.lambdas.map((lambda) => ({ lambda, mu })));
  const tasks: SimTask[] = grid.flatMap(({ lambda, mu }, point) =>
    chunkReps(o.runs, 10).map((reps) => ({
      kind: 'entropy' as const,
      point,
      reps,
      seed: o.seed,
      params: { lambda, mu },
    })),
  );
  const results = await runTasks(tasks, { workers: o.workers, label: 'sim entropy' });
  return valuesByPoint<number>(tasks, results, grid.length).map((values, i) => {
    const { lambda, mu } = grid[i]!;
    const s = summarize(values);
    return {
      lambda,
      mu,
      entropy_mean: round(s.mean),
      entropy_sd: round(s.sd),
      entropy_limit: round(entropyLimit(lambda, mu)),
    };
  });
}

/** Figure 4 redrawn: one line per µ with ±sd bars, and the log₂(e·λ/µ) limit dashed. */
export function entropyPlot(points: readonly EntropyPoint[]): TopLevelSpec {
  const data = points.map((p) => ({ ...p, series: `µ = ${p.mu}` }));
  const spec = linePlot({
    title: 'Poisson mix: entropy of outgoing messages (Loopix Fig. 4); dashed: log2(e·λ/µ)',
    x: { field: 'lambda', title: 'rate of incoming traffic λ (messages per time unit)' },
    y: { field: 'entropy_mean', title: 'entropy (bits)' },
    series: { field: 'series', title: 'delay parameter' },
    ySd: 'entropy_sd',
    data,
  }) as TopLevelSpec & { layer: object[] };
  spec.layer.push({
    mark: { type: 'line', strokeDash: [4, 4], opacity: 0.6 },
    encoding: {
      x: { field: 'lambda', type: 'quantitative' },
      y: { field: 'entropy_limit', type: 'quantitative' },
      color: { field: 'series', type: 'nominal' },
    },
  });
  return spec;
}
