/** `loopix fuzz`: runs src/fuzz/fuzz.ts against both backends; exits 1 on any crash. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { runFuzz } from '../fuzz/fuzz.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { tsBackend } from '../sphinx/ts/index.js';

export function runFuzzCommand(o: { iterations: number; seed: number; json?: boolean }): void {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`fuzz: seed ${o.seed}, ${o.iterations} inputs`);
  const report = runFuzz({ iterations: o.iterations, seed: o.seed, native: loadNativeBackend(), ts: tsBackend, log });
  for (const c of report.crashes.slice(0, 10)) log(`crash in ${c.target}: ${c.message}`);
  if (report.crashes.length) {
    mkdirSync('fuzz-crashes', { recursive: true });
    const file = `fuzz-crashes/seed-${o.seed}.json`;
    writeFileSync(file, JSON.stringify(report.crashes, null, 1));
    log(`crashing inputs written to ${file}`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ seed: o.seed, ...report, crashes: report.crashes.length })}\n`);
  process.stdout.write(`fuzz: ${report.inputs} inputs, ${report.crashes.length} crashes (${report.seconds.toFixed(1)} s)\n`);
  if (report.crashes.length) process.exitCode = 1;
}
