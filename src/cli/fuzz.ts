/** `loopix fuzz`: runs src/fuzz/fuzz.ts (corpus replay, then generated inputs); exits 1 on any crash. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { saveCorpus } from '../fuzz/corpus.js';
import { runFuzz } from '../fuzz/fuzz.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { tsBackend } from '../sphinx/ts/index.js';

export interface FuzzCommandOptions {
  readonly iterations: number;
  readonly seed: number;
  readonly json?: boolean;
  readonly targets?: string;
  readonly corpus?: string;
  readonly saveCorpus?: string;
}

export function runFuzzCommand(o: FuzzCommandOptions): void {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`fuzz: seed ${o.seed}, ${o.iterations} inputs`);
  const report = runFuzz({
    iterations: o.iterations,
    seed: o.seed,
    native: loadNativeBackend(),
    ts: tsBackend,
    log,
    ...(o.targets
      ? {
          targets: o.targets
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean),
        }
      : {}),
    ...(o.corpus ? { corpusDir: o.corpus === 'none' ? null : o.corpus } : {}),
    collectInteresting: o.saveCorpus !== undefined,
  });
  for (const [target, n] of Object.entries(report.byTarget)) {
    log(
      `  ${target}: ${n} inputs, ${report.outcomes[target] ?? 0} distinct outcomes, ${(report.secondsByTarget[target] ?? 0).toFixed(1)} s`,
    );
  }
  for (const c of report.crashes.slice(0, 10))
    log(`crash in ${c.target}: ${c.message}\n  input: ${c.input.slice(0, 300)}`);
  if (report.crashCount) {
    mkdirSync('fuzz-crashes', { recursive: true });
    const file = `fuzz-crashes/seed-${o.seed}.json`;
    writeFileSync(file, JSON.stringify(report.crashes, null, 1));
    log(`crashing inputs written to ${file}`);
  }
  if (o.saveCorpus) log(`fuzz: ${saveCorpus(o.saveCorpus, report.interesting)} new corpus files in ${o.saveCorpus}`);
  if (o.json) {
    const { interesting: _omit, ...rest } = report;
    process.stdout.write(`${JSON.stringify({ seed: o.seed, ...rest, crashes: report.crashCount })}\n`);
  }
  process.stdout.write(
    `fuzz: ${report.inputs} inputs, ${report.crashCount} crashes (${report.seconds.toFixed(1)} s)\n`,
  );
  if (report.crashCount) process.exitCode = 1;
}
