/**
 * The package's version, read from the package.json this module ships in (found by walking up from this
 * file: `src/` when run from source, `dist/src/` when compiled, `node_modules/loopix/dist/src/` when
 * installed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'loopix' && typeof pkg.version === 'string') return (cached = pkg.version);
    }
    const up = dirname(dir);
    if (up === dir) return (cached = '0.0.0-unknown');
    dir = up;
  }
}
