/**
 * One clock for every benchmark process: CLOCK_MONOTONIC in milliseconds. `performance.now()` counts from
 * each process's own time origin, but `process.hrtime` is the same CLOCK_MONOTONIC in every process of the
 * host, so a timestamp taken in the load generator and one taken in the sink can be subtracted. The offset is
 * read once; afterwards a timestamp costs one performance.now() (no BigInt per packet).
 */
const OFFSET_MS = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/** Host-wide monotonic time, ms. */
export function monoNowMs(): number {
  return performance.now() + OFFSET_MS;
}

/** Converts a performance.now() reading of this process to host-wide monotonic ms. */
export function toMonoMs(perfNowMs: number): number {
  return perfNowMs + OFFSET_MS;
}
