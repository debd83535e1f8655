/**
 * Picks the Sphinx implementation a process uses: the native addon when it loads and passes its start-up
 * self-check, otherwise the TypeScript twin — announced in one line, because a silent fallback would cost an
 * operator most of a node's throughput without telling them.
 *
 * LOOPIX_SPHINX=ts forces the twin (browsers and cross-checks); LOOPIX_SPHINX=native refuses to fall back.
 */
import { loadNativeBackend } from './native.js';
import { selfCheck } from './selftest.js';
import { tsBackend } from './ts/index.js';
import type { SphinxBackend } from './types.js';

export interface LoadOptions {
  /** 'auto' (default): native, falling back to ts; 'native': native or throw; 'ts': the twin. */
  readonly prefer?: 'auto' | 'native' | 'ts';
  /** Where the one-line fallback notice goes (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface LoadedSphinx {
  readonly backend: SphinxBackend;
  /** Why the native addon is not in use, when it is not. */
  readonly fallbackReason?: string;
}

let cached: LoadedSphinx | undefined;

function preferenceFromEnv(): 'auto' | 'native' | 'ts' {
  const v = process.env.LOOPIX_SPHINX;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'native' || v === 'ts') return v;
  throw new RangeError(`LOOPIX_SPHINX must be one of auto, native, ts; got ${JSON.stringify(v)}`);
}

/** Loads and self-checks a backend without caching (tests use this to get each one explicitly). */
export function loadSphinxUncached(options: LoadOptions = {}): LoadedSphinx {
  const prefer = options.prefer ?? preferenceFromEnv();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (prefer === 'ts') {
    selfCheck(tsBackend);
    return { backend: tsBackend, fallbackReason: 'TypeScript twin requested' };
  }
  let reason: string;
  try {
    const native = loadNativeBackend();
    selfCheck(native);
    return { backend: native };
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
    if (prefer === 'native') throw new Error(`native Sphinx addon unusable: ${reason}`);
  }
  selfCheck(tsBackend);
  log(`loopix: native Sphinx addon unusable (${reason}); using the TypeScript twin, expect ~10x lower throughput`);
  return { backend: tsBackend, fallbackReason: reason };
}

/** The process-wide backend, loaded and checked once. */
export function loadSphinx(options: LoadOptions = {}): LoadedSphinx {
  cached ??= loadSphinxUncached(options);
  return cached;
}
