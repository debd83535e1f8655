/**
 * The unit of work of every sweep: some repetitions of one simulator at one parameter point. Tasks are plain
 * data so they can cross to a worker thread; each repetition seeds its own PRNG from (seed, point, rep), so a
 * sweep's numbers do not depend on how its repetitions were split across threads.
 */
import { simulateEntropy, type EntropyRunOptions } from './entropy.js';
import { simulateEpsilon, type EpsilonParams } from './epsilon.js';
import { simulateIntersection, type IntersectionParams } from './intersection.js';
import { simulateNMinus1, type NMinus1Params } from './n-minus-1.js';
import { deriveSeed, Rng } from '../util/random.js';

interface TaskBase {
  /** Index of the parameter point in its sweep. */
  readonly point: number;
  /** Repetition indices this task runs. */
  readonly reps: readonly number[];
  /** The sweep's seed. */
  readonly seed: number;
}

export type SimTask =
  | (TaskBase & { readonly kind: 'entropy'; readonly params: EntropyRunOptions })
  | (TaskBase & { readonly kind: 'epsilon'; readonly params: EpsilonParams })
  | (TaskBase & { readonly kind: 'n-1'; readonly params: NMinus1Params })
  | (TaskBase & { readonly kind: 'intersection'; readonly params: IntersectionParams });

export interface SimTaskResult {
  readonly point: number;
  /** One value per repetition, in the order of task.reps. */
  readonly values: unknown[];
}

function simulateOne(task: SimTask, rng: Rng): unknown {
  switch (task.kind) {
    case 'entropy':
      return simulateEntropy(task.params, rng);
    case 'epsilon':
      return simulateEpsilon(task.params, rng).epsilon;
    case 'n-1':
      return simulateNMinus1(task.params, rng);
    case 'intersection':
      return simulateIntersection(task.params, rng);
  }
}

export function runTask(task: SimTask): SimTaskResult {
  return {
    point: task.point,
    values: task.reps.map((rep) => simulateOne(task, new Rng(deriveSeed(task.seed, task.point, rep)))),
  };
}

/** Splits `reps` repetitions of one point into tasks of at most `chunk` repetitions. */
export function chunkReps(reps: number, chunk: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < reps; start += chunk)
    out.push(Array.from({ length: Math.min(chunk, reps - start) }, (_, i) => start + i));
  return out;
}
