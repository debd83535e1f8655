/**
 * The @stdlib functions of src/stats/stdlib-entry.ts, loaded from one pre-bundled file when it exists.
 *
 * Why a bundle: each @stdlib package is a tree of tiny CommonJS modules, about 900 files for these six. Every
 * node, client and authority process loads them at start (the mixing health check, loss evidence), and
 * resolving and compiling them cost about 0.3–0.9 s of CPU per process on a 2-vCPU host (more when it is
 * busy), a fifth to a third of a node's start-up. `npm run bundle:stdlib` (part of `npm install`) puts the
 * same code into dist/vendor/stdlib.cjs, which loads in well under 0.1 s, and only when a function is first
 * called. Without it (dist/ not built) the packages load directly: the same functions, only a slower start.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../paths.js';

type StdlibFunctions = typeof import('./stdlib-entry.js');

/** Where `npm run bundle:stdlib` writes the bundle. */
export const STDLIB_BUNDLE = join(repoRoot(), 'dist', 'vendor', 'stdlib.cjs');

/** Whether the functions below came from the bundle (for the start-up test). */
export const stdlibBundled = existsSync(STDLIB_BUNDLE);

// Without the bundle the packages load now (an asynchronous import needs top-level await); with it, the
// bundle loads at the first call: a node that never runs a mixing analysis or a loss test never loads it.
const unbundled: StdlibFunctions | undefined = stdlibBundled ? undefined : await import('./stdlib-entry.js');
let bundled: StdlibFunctions | undefined;
const lib = (): StdlibFunctions =>
  unbundled ?? (bundled ??= createRequire(import.meta.url)(STDLIB_BUNDLE) as StdlibFunctions);

/** `name` of the loaded library, called through so that the bundle loads on first use. */
function late<K extends keyof StdlibFunctions>(name: K): StdlibFunctions[K] {
  return ((...args: unknown[]) => (lib()[name] as (...a: unknown[]) => unknown)(...args)) as StdlibFunctions[K];
}

export const binomialCdf: StdlibFunctions['binomialCdf'] = late('binomialCdf');
export const chi2gof: StdlibFunctions['chi2gof'] = late('chi2gof');
export const gammaPdf: StdlibFunctions['gammaPdf'] = late('gammaPdf');
export const gammainc: StdlibFunctions['gammainc'] = late('gammainc');
export const kstest: StdlibFunctions['kstest'] = late('kstest');
export const poissonPmf: StdlibFunctions['poissonPmf'] = late('poissonPmf');
