/**
 * How the `loopix` command reports a failure: one line on stderr naming what is wrong — `loopix client send: CODE:
 * message` for a LoopixError, `loopix client send: message` otherwise — and exit status 2, never a stack trace (set
 * LOOPIX_DEBUG=1 to get the stack as well). Commander's own usage errors (unknown option, missing value)
 * are printed by commander itself (one line, exit status 1) and never reach here; an InvalidArgumentError
 * thrown inside an action does, and is printed like any other error.
 */
import { isLoopixError } from '../errors.js';

export function formatCliError(err: unknown, command = 'loopix'): string {
  if (isLoopixError(err)) return `${command}: ${err.code}: ${err.message}`;
  if (err instanceof Error) return `${command}: ${err.message.split('\n')[0]}`;
  return `${command}: ${String(err)}`;
}

/** Prints `err` as one line and sets the exit status; `write` defaults to stderr. */
export function reportCliError(
  err: unknown,
  command = 'loopix',
  write: (line: string) => void = (line) => process.stderr.write(line),
): void {
  write(`${formatCliError(err, command)}\n`);
  if (process.env.LOOPIX_DEBUG === '1' && err instanceof Error && err.stack) write(`${err.stack}\n`);
  process.exitCode = 2;
}
