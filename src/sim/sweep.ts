/**
 * Runs a sweep's tasks on worker threads (piscina; the simulators are CPU-bound and independent, so each core
 * gets its own), or inline when one thread is asked for or the compiled worker is missing. Results come back
 * in task order and every repetition seeds itself, so the output never depends on scheduling.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { findCompiledFile } from '../paths.js';
import { Progress } from './progress.js';
import { runTask, type SimTask, type SimTaskResult } from './tasks.js';

/**
 * The compiled worker: next to this module when running from dist/, else (vitest runs the TypeScript sources)
 * the copy tsc emitted to <repo>/dist/src/sim/worker.js; undefined when neither exists.
 */
export function simWorkerFile(): string | undefined {
  return findCompiledFile('src/sim/worker');
}

export function defaultSimWorkers(): number {
  return availableParallelism();
}

export interface RunTasksOptions {
  /** Worker threads; 1 runs inline on the calling thread. */
  readonly workers: number;
  /** Label of the progress bar. */
  readonly label: string;
}

/** Runs every task and returns the results in task order. */
export async function runTasks(tasks: readonly SimTask[], o: RunTasksOptions): Promise<SimTaskResult[]> {
  const progress = new Progress(
    o.label,
    tasks.reduce((n, t) => n + t.reps.length, 0),
  );
  const file = o.workers > 1 && tasks.length > 1 ? simWorkerFile() : undefined;
  try {
    if (!file) {
      return tasks.map((t) => {
        const r = runTask(t);
        progress.tick(t.reps.length);
        return r;
      });
    }
    const threads = Math.min(o.workers, tasks.length);
    const pool = new Piscina({ filename: file, minThreads: threads, maxThreads: threads });
    try {
      return await Promise.all(
        tasks.map(async (t) => {
          const r = (await pool.run(t)) as SimTaskResult;
          progress.tick(t.reps.length);
          return r;
        }),
      );
    } finally {
      await pool.destroy();
    }
  } finally {
    progress.finish();
  }
}

/** Groups task results by point: values[point] = every repetition's value, in repetition order. */
export function valuesByPoint<T>(tasks: readonly SimTask[], results: readonly SimTaskResult[], points: number): T[][] {
  const out: Array<Array<[number, T]>> = Array.from({ length: points }, () => []);
  results.forEach((r, i) => {
    const reps = tasks[i]!.reps;
    r.values.forEach((v, j) => out[r.point]!.push([reps[j]!, v as T]));
  });
  return out.map((list) => list.sort((a, b) => a[0] - b[0]).map(([, v]) => v));
}
