/**
 * One clock for every benchmark process: CLOCK_MONOTONIC in milliseconds. `performance.now()` counts from
 * each process's own time origin, but `process.hrtime` is the same CLOCK_MONOTONIC in every process of the
 * host, so a timestamp taken in the load generator and one taken in the sink can be subtracted. The offset
 * between the two is measured once, carefully (see measureOffset); afterwards a timestamp costs one
 * performance.now() (no BigInt per packet).
 */
function measureOffset(): number {
  // The first access to `performance` loads perf_hooks (~1 ms), and any read can be preempted: bracket each
  // performance.now() between two hrtime reads and keep the tightest of many tries (error < a few µs).
  performance.now();
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 200; i++) {
    const a = process.hrtime.bigint();
    const p = performance.now();
    const b = process.hrtime.bigint();
    const width = Number(b - a);
    if (width < best) {
      best = width;
      offset = Number(a) / 1e6 + width / 2e6 - p;
    }
  }
  return offset;
}

const OFFSET_MS = measureOffset();

/** Host-wide monotonic time, ms. */
export function monoNowMs(): number {
  return performance.now() + OFFSET_MS;
}

/** Converts a performance.now() reading of this process to host-wide monotonic ms. */
export function toMonoMs(perfNowMs: number): number {
  return perfNowMs + OFFSET_MS;
}
