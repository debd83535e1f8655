/**
 * Compiles the TypeScript to dist/ once before the suite: tests that start real node processes run
 * bin/loopix.js (which loads dist/), and piscina workers need compiled JavaScript.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  // Once per run, not once per vitest project (fast, slow): the flag lives in the main process's environment.
  if (process.env.LOOPIX_TEST_DIST_COMPILED === '1') return;
  process.env.LOOPIX_TEST_DIST_COMPILED = '1';
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    // tsc still emits on type errors; `npm test` type-checks separately (npm run typecheck) and fails there.
    process.stderr.write(
      `global-setup: tsc reported errors (see npm run typecheck):\n${String((err as { stdout?: unknown }).stdout ?? err).slice(0, 2000)}\n`,
    );
  }
  // The start-up bundle of @stdlib (src/stats/stdlib.ts), as `npm install` builds it: the processes load it.
  execFileSync('npm', ['run', '--silent', 'bundle:stdlib'], { cwd: root, stdio: 'pipe' });
}
