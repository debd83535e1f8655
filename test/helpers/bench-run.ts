/**
 * `loopix bench ARGS` through the real CLI as a child process, awaited without blocking the test worker (the
 * benchmark smoke tests run two at a time: vitest.config.ts maxConcurrency), and the JSON line it ends with.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/loopix.js', import.meta.url));

export interface BenchRun {
  /** Exit code; null when the process was killed (timeout). */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runBench(...args: string[]): Promise<BenchRun> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [BIN, 'bench', ...args],
      { encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    ),
  );
}

/** The last line of a `--json` run, parsed. */
export const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
