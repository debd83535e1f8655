/** The Figures 5–7 sweeps of `sim epsilon`: ε of equation (3) over µ, over the number of layers, or over corruption. */
import type { TopLevelSpec } from '../plot/svg.js';
import { linePlot } from '../plot/svg.js';
import { epsilonParamsFor, type EpsilonParams, type EpsilonVary } from './epsilon.js';
import { round, summarize } from './stats.js';
import { runTasks, valuesByPoint } from './sweep.js';
import { chunkReps, type SimTask } from './tasks.js';

export const PAPER_EPSILON_REPS = 100;

export interface EpsilonSweepOptions {
  readonly vary: EpsilonVary;
  /** Values of the varied parameter (µ per time unit, layers, or percent of corrupt mixes). */
  readonly values: readonly number[];
  readonly reps: number;
  readonly base: EpsilonParams;
  readonly seed: number;
  readonly workers: number;
}

export interface EpsilonPoint {
  readonly vary: EpsilonVary;
  readonly value: number;
  /** Mean ε over the repetitions with a finite ε. */
  readonly epsilon_mean: number;
  readonly epsilon_sd: number;
  readonly epsilon_se: number;
  /** Repetitions where one challenge sender had no weight at all in the measured pool (ε = ∞), or the pool was empty. */
  readonly non_finite: number;
}

export async function epsilonSweep(o: EpsilonSweepOptions): Promise<EpsilonPoint[]> {
  const tasks: SimTask[] = o.values.flatMap((value, point) =>
    chunkReps(o.reps, 10).map((reps) => ({
      kind: 'epsilon' as const,
      point,
      reps,
      seed: o.seed,
      params: epsilonParamsFor(o.vary, value, o.base),
    })),
  );
  const results = await runTasks(tasks, { workers: o.workers, label: `sim epsilon --vary ${o.vary}` });
  return valuesByPoint<number>(tasks, results, o.values.length).map((values, i) => {
    const finite = values.filter((v) => Number.isFinite(v));
    const s = summarize(finite);
    return {
      vary: o.vary,
      value: o.values[i]!,
      epsilon_mean: round(s.mean),
      epsilon_sd: round(s.sd),
      epsilon_se: round(s.se),
      non_finite: values.length - finite.length,
    };
  });
}

const AXIS: Record<EpsilonVary, { title: string; figure: string }> = {
  mu: { title: 'delay parameter µ (per time unit)', figure: 'Loopix Fig. 5: 3×3 mixes, λ = 2, no corruption' },
  layers: { title: 'number of layers l (3 mixes each)', figure: 'Loopix Fig. 6: λ = 2, µ = 1, no corruption' },
  corrupt: { title: 'corrupt mixes (%)', figure: 'Loopix Fig. 7: 3×3 mixes, λ = 2, µ = 1' },
};

export function epsilonPlot(points: readonly EpsilonPoint[], vary: EpsilonVary): TopLevelSpec {
  return linePlot({
    title: `Likelihood difference ε, mean ± sd (${AXIS[vary].figure})`,
    x: { field: 'value', title: AXIS[vary].title },
    y: { field: 'epsilon_mean', title: 'likelihood difference ε' },
    ySd: 'epsilon_sd',
    data: points as unknown as Record<string, unknown>[],
  });
}
