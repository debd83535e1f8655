/**
 * The bodies of the `loopix bench …` subcommands (registered in src/cli/bench-commands.ts): each runs a
 * benchmark from bench/, prints its progress and a table on stderr, writes its results (JSON + SVG) under
 * the results directory, and with --json prints one JSON object as the last line of stdout.
 */
import { runSphinxBench } from '../bench/sphinx.js';

export const logToStderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Prints `result` as one JSON line (--json) or as a key/value table. */
export function printResult(result: object, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  for (const [k, v] of Object.entries(result))
    process.stdout.write(`${k.padEnd(24)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : v}\n`);
}

export function runBenchSphinx(o: { json?: boolean; seconds: number; batch: number; opensslSeconds: number }): void {
  const result = runSphinxBench({
    seconds: o.seconds,
    batch: o.batch,
    opensslSeconds: o.opensslSeconds,
    log: logToStderr,
  });
  printResult(result, o.json);
}
