/** The `sim n-1` sweep: the stealthy (n−1) attack's success probability over s and λM, simulated and by formula. */
import type { TopLevelSpec } from '../plot/svg.js';
import { nMinus1Exact, nMinus1Formula, type NMinus1Run } from './n-minus-1.js';
import { round, summarize } from './stats.js';
import { runTasks, valuesByPoint } from './sweep.js';
import { chunkReps, type SimTask } from './tasks.js';

export interface NMinus1SweepOptions {
  readonly s: readonly number[];
  readonly lambdaM: readonly number[];
  readonly lambdaR: number;
  readonly mu: number;
  readonly reps: number;
  readonly probes: number;
  readonly seed: number;
  readonly workers: number;
}

export interface NMinus1Point {
  readonly s: number;
  readonly lambda_m: number;
  /** Simulated Pr(x = target), mean over repetitions. */
  readonly p_sim: number;
  /** Standard error of p_sim. */
  readonly p_sim_se: number;
  /** The §4.2.1 formula sµ/(sλM + λR). */
  readonly p_formula: number;
  /** E[1/(N+1)], N ~ Pois(m): what the simulation estimates, exactly. */
  readonly p_exact: number;
  /** Expected pool size m = λR/(sµ) + λM/µ the target joins. */
  readonly pool_mean: number;
  /** Returning loops per time unit that got through, simulated; the mix's alarm threshold is r = λM/s. */
  readonly loop_return_rate: number;
  readonly threshold_r: number;
}

export async function nMinus1Sweep(o: NMinus1SweepOptions): Promise<NMinus1Point[]> {
  const grid = o.lambdaM.flatMap((lambdaM) => o.s.map((s) => ({ s, lambdaM })));
  const tasks: SimTask[] = grid.flatMap(({ s, lambdaM }, point) =>
    chunkReps(o.reps, 5).map((reps) => ({
      kind: 'n-1' as const,
      point,
      reps,
      seed: o.seed,
      params: { lambdaR: o.lambdaR, lambdaM, mu: o.mu, s, probes: o.probes },
    })),
  );
  const results = await runTasks(tasks, { workers: o.workers, label: 'sim n-1' });
  return valuesByPoint<NMinus1Run>(tasks, results, grid.length).map((runs, i) => {
    const { s, lambdaM } = grid[i]!;
    const params = { lambdaR: o.lambdaR, lambdaM, mu: o.mu, s };
    const p = summarize(runs.map((r) => r.p));
    const loops = summarize(runs.map((r) => r.loopReturnRate));
    return {
      s,
      lambda_m: lambdaM,
      p_sim: round(p.mean),
      p_sim_se: round(p.se, 3),
      p_formula: round(nMinus1Formula(params)),
      p_exact: round(nMinus1Exact(params)),
      pool_mean: round(o.lambdaR / (s * o.mu) + lambdaM / o.mu),
      loop_return_rate: round(loops.mean),
      threshold_r: round(lambdaM / s),
    };
  });
}

/** p over s (log scale), one colour per λM: simulated as points and solid line, the formula dashed. */
export function nMinus1Plot(points: readonly NMinus1Point[], o: { lambdaR: number; mu: number }): TopLevelSpec {
  const data = points.map((p) => ({ ...p, series: `λM = ${p.lambda_m}` }));
  const x = {
    field: 's',
    type: 'quantitative',
    title: 'stealth factor s (the adversary admits 1/s of the inputs)',
    scale: { type: 'log' },
  };
  const color = { field: 'series', type: 'nominal', title: 'mix loop rate' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `(n−1) attack, Loopix §4.2.1: Pr(x = target), simulated (solid) vs sµ/(sλM + λR) (dashed); λR = ${o.lambdaR}, µ = ${o.mu}`,
    width: 480,
    height: 300,
    background: 'white',
    data: { values: data },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'p_sim', type: 'quantitative', title: 'Pr(x = target)', scale: { type: 'log' } },
          color,
        },
      },
      {
        mark: { type: 'line', strokeDash: [5, 4] },
        encoding: { x, y: { field: 'p_formula', type: 'quantitative' }, color },
      },
    ],
  } as TopLevelSpec;
}
