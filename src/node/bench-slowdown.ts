/**
 * An injected slowdown for showing that the performance gate catches a real regression
 * (docs/benchmarks.md "Gate"): with LOOPIX_BENCH_INJECT_SLOWDOWN = f (0 < f < 1), a piece of the packet path
 * is followed by a busy wait of f / (1 − f) times its own duration, so that piece's throughput falls by the
 * fraction f (0.3: to 70 %). On the sharded path the piece is everything a worker does per wake-up (receive,
 * link, unwrap, replay check, routing, send): the whole packet path is slower by f. On the pool path it is each
 * crypto worker's unwrap batch and the main thread's handling of each datagram and each unwrapped batch.
 *
 * Honoured only by a node process the benchmark rig started: the rig alone sets LOOPIX_BENCH_NODE=1 in the
 * node's environment (src/bench/rig.ts), so the variable in an operator's environment does nothing to a
 * production node.
 */
export const BENCH_NODE_ENV = 'LOOPIX_BENCH_NODE';
export const INJECT_SLOWDOWN_ENV = 'LOOPIX_BENCH_INJECT_SLOWDOWN';

/** The fraction of throughput to remove, 0 when off (or when this is not a benchmark node). */
export function injectedSlowdown(env: NodeJS.ProcessEnv = process.env): number {
  if (env[BENCH_NODE_ENV] !== '1') return 0;
  const f = Number(env[INJECT_SLOWDOWN_ENV] ?? '');
  return Number.isFinite(f) && f > 0 && f < 1 ? f : 0;
}

/** Busy-waits so that work that took `workMs` ends up taking workMs / (1 − f). */
export function stretch(workMs: number, f: number): void {
  if (f <= 0) return;
  const until = performance.now() + (workMs * f) / (1 - f);
  while (performance.now() < until) {
    // spin: the point is to burn this thread's CPU like slower code would
  }
}
