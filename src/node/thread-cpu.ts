/**
 * CPU time of the process's main thread alone, µs (user + system). `process.cpuUsage()` counts every thread
 * of the process (getrusage RUSAGE_SELF), which on the sharded path is mostly the packet-path workers; the
 * control plane's cost is the main thread's share. Linux: /proc/self/task/<pid>/stat (the main thread's id is
 * the process id; clock ticks of 10 ms, so divide over seconds of traffic, not single packets). Elsewhere:
 * null.
 */
import { readFileSync } from 'node:fs';

const TICK_US = 10_000; // USER_HZ = 100 on Linux

export function mainThreadCpuUs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (man 5 proc, counting from the state field)
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return null;
  }
}
