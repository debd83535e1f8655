/** `loopix bench sphinx`: runs bench/sphinx.ts and prints a table or, with --json, one JSON line. */
import { runSphinxBench } from '../../bench/sphinx.js';

export function runBenchSphinx(o: { json?: boolean; seconds: number; batch: number; opensslSeconds: number }): void {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const result = runSphinxBench({ seconds: o.seconds, batch: o.batch, opensslSeconds: o.opensslSeconds, log });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(22)} ${v}\n`);
}
