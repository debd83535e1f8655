/**
 * The fuzz corpus: interesting inputs kept as small JSON files, one per input, under
 * `<dir>/<target>/<name>.json` as `{ "target", "note", "input" }` (input in the target's JSON form), and
 * optionally `"expect"`: the outcome signature the input must produce (pins a behaviour, e.g. a fix). The
 * fuzzer replays every file before it generates anything, so a regression of a past finding fails at once,
 * and `--save-corpus DIR` writes the first input of each new outcome a run sees (src/fuzz/harness.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../paths.js';
import type { CorpusEntry, Interesting } from './harness.js';
import { readJsonFile } from '../util/json-file.js';

/** test/fuzz-corpus in the repository (undefined when it is not there, e.g. in an installed package). */
export function defaultCorpusDir(): string | undefined {
  try {
    const dir = join(repoRoot(), 'test', 'fuzz-corpus');
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Every corpus entry under `dir`, in a stable order. A file that is not valid corpus JSON throws. */
export function loadCorpus(dir: string): CorpusEntry[] {
  const entries: CorpusEntry[] = [];
  for (const target of readdirSync(dir).sort()) {
    const sub = join(dir, target);
    if (!statSync(sub).isDirectory()) continue;
    for (const name of readdirSync(sub).sort()) {
      if (!name.endsWith('.json')) continue;
      const file = join(sub, name);
      const parsed = readJsonFile(file, { label: 'fuzz corpus', area: 'FUZZ_CORPUS' }) as {
        target?: unknown;
        input?: unknown;
        expect?: unknown;
      };
      if (parsed.target !== undefined && parsed.target !== target)
        throw new Error(`fuzz corpus ${file}: target ${JSON.stringify(parsed.target)} is not its directory ${target}`);
      if (parsed.expect !== undefined && typeof parsed.expect !== 'string')
        throw new Error(`fuzz corpus ${file}: expect must be a string`);
      entries.push({
        target,
        file,
        input: parsed.input,
        ...(parsed.expect !== undefined ? { expect: parsed.expect } : {}),
      });
    }
  }
  return entries;
}

const slug = (s: string) =>
  s
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48) || 'input';

/** Writes interesting inputs as corpus files; returns how many files were new. */
export function saveCorpus(dir: string, items: readonly Interesting[]): number {
  let written = 0;
  for (const item of items) {
    const text = JSON.stringify({ target: item.target, note: item.outcome, input: item.input });
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 10);
    const sub = join(dir, item.target);
    mkdirSync(sub, { recursive: true });
    const file = join(sub, `${slug(item.outcome)}-${hash}.json`);
    if (existsSync(file)) continue;
    writeFileSync(file, `${text}\n`);
    written++;
  }
  return written;
}
