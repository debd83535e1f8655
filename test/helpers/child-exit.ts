/** Stopping a node's child process the way an operator does, to check it shuts down cleanly. */
import type { ChildProcess } from 'node:child_process';

/** Sends SIGTERM to `child` and resolves with its exit code (0: it drained and exited cleanly). */
export function exitCodeAfterSigterm(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
