/**
 * The project's error base: every error a user or operator can meet carries a stable `code`
 * (`ERR_LOOPIX_…`, fastify-style) and, where one input is to blame, the `field` it concerns. Callers and
 * tests switch on `code`, never on message text; the CLI prints `code: message` on one line (errorLine).
 *
 * The domain errors below (ConfigError, TopologyError, …) are LoopixErrors with a default code for their
 * area; a throw site passes a more specific code where callers can act on the difference.
 */
export type LoopixErrorCode = `ERR_LOOPIX_${string}`;

export interface LoopixErrorOptions {
  /** Overrides the class's default code. */
  readonly code?: LoopixErrorCode;
  readonly field?: string;
  readonly cause?: unknown;
}

export class LoopixError extends Error {
  /** Stable machine-readable code, `ERR_LOOPIX_<AREA>_<WHAT>`. */
  readonly code: string;
  /** The config key, flag, file or wire field the error is about, when there is one. */
  readonly field: string | undefined;

  constructor(code: LoopixErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LoopixError';
    this.code = code;
    this.field = options.field;
  }
}

/** True for a LoopixError with `code` (or any LoopixError when `code` is omitted). */
export function isLoopixError(err: unknown, code?: string): err is LoopixError {
  return err instanceof LoopixError && (code === undefined || err.code === code);
}

/** A config file or value that does not parse or validate (src/config/schema.ts). */
export class ConfigError extends LoopixError {
  constructor(message: string, o: LoopixErrorOptions = {}) {
    super(o.code ?? 'ERR_LOOPIX_CONFIG_INVALID', message, o);
    this.name = 'ConfigError';
  }
}

/** A topology document that does not parse, validate or verify (src/topology/document.ts). */
export class TopologyError extends LoopixError {
  constructor(message: string, o: LoopixErrorOptions = {}) {
    super(o.code ?? 'ERR_LOOPIX_TOPOLOGY_INVALID', message, o);
    this.name = 'TopologyError';
  }
}

/** A key file or key store that does not parse or validate (src/node/keys.ts). */
export class KeyFileError extends LoopixError {
  constructor(message: string, o: LoopixErrorOptions = {}) {
    super(o.code ?? 'ERR_LOOPIX_KEYFILE_INVALID', message, o);
    this.name = 'KeyFileError';
  }
}

/** Config, topology and keys that are each valid but do not fit together, or a node that cannot start. */
export class StartupError extends LoopixError {
  constructor(message: string, o: LoopixErrorOptions = {}) {
    super(o.code ?? 'ERR_LOOPIX_STARTUP_MISMATCH', message, o);
    this.name = 'StartupError';
  }
}

/** A replay-filter state file that cannot be trusted (src/node/replay-store.ts): start-up must stop. */
export class ReplayStoreError extends LoopixError {
  constructor(message: string, o: LoopixErrorOptions = {}) {
    super(o.code ?? 'ERR_LOOPIX_REPLAY_STATE_CORRUPT', message, o);
    this.name = 'ReplayStoreError';
  }
}

/** Packet creation drew a seed whose scalar cannot be lifted; the caller draws a new seed (p ≈ 2⁻¹²⁵). */
export class UnliftableScalarError extends LoopixError {
  constructor() {
    super('ERR_LOOPIX_SPHINX_UNLIFTABLE_SCALAR', 'unliftable scalar');
    this.name = 'UnliftableScalarError';
  }
}

/**
 * The one line a CLI command prints for a failure: `CODE: message`. A LoopixError gives its code; a Node
 * system error (ENOENT, EADDRINUSE, …) its own; anything else is unexpected and says so.
 */
export function errorLine(err: unknown): string {
  if (err instanceof LoopixError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${typeof code === 'string' && code !== '' ? code : 'ERR_LOOPIX_UNEXPECTED'}: ${err.message}`;
  }
  return `ERR_LOOPIX_UNEXPECTED: ${String(err)}`;
}
