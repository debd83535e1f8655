/** Where the project's own files are, whether running from src/ (vitest) or dist/src/ (compiled). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The directory holding loopix's package.json. */
export function repoRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'loopix')
      return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the loopix package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The `loopix` command's entry script. */
export function loopixBin(): string {
  return join(repoRoot(), 'bin', 'loopix.js');
}

/**
 * A compiled script of this project by its path from the repository root without extension, e.g.
 * `src/node/worker`: `<root>/<path>.js` when running from dist/ (the module tree is compiled), else — vitest
 * runs the TypeScript sources — the copy tsc emitted to `<root>/dist/<path>.js`. Undefined when neither
 * exists (the caller says what to build).
 */
export function findCompiledFile(path: string): string | undefined {
  const here = fileURLToPath(import.meta.url);
  const candidates = here.endsWith('.js')
    ? [join(dirname(dirname(here)), `${path}.js`), join(repoRoot(), 'dist', `${path}.js`)]
    : [join(repoRoot(), 'dist', `${path}.js`)];
  return candidates.find((f) => existsSync(f));
}

/** findCompiledFile, or an error naming what is missing and how to build it. */
export function compiledFile(path: string): string {
  const found = findCompiledFile(path);
  if (found === undefined)
    throw new Error(`${path}.js not found (compiled) under ${repoRoot()} or its dist/; run \`npm run build:ts\``);
  return found;
}
