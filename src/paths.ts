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
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'loopix') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the loopix package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The `loopix` command's entry script. */
export function loopixBin(): string {
  return join(repoRoot(), 'bin', 'loopix.js');
}
