/** `loopix sim <args> --quick --json --seed 1 --workers 1 --out <out>` in a child process, as a user runs it. */
import { spawn } from 'node:child_process';
import { loopixBin } from '../../src/paths.js';

export interface SimRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the compiled CLI's simulator (its reduced sweep, seed 1, one worker thread) and collects its output. */
export function runQuickSim(out: string, args: readonly string[]): Promise<SimRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      loopixBin(),
      'sim',
      ...args,
      '--quick',
      '--json',
      '--seed',
      '1',
      '--workers',
      '1',
      '--out',
      out,
    ]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
