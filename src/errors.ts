/**
 * The project's error base: every error a user or operator can meet carries a stable `code`
 * (`ERR_LOOPIX_…`, fastify-style) and, where one input is to blame, the `field` it concerns. Callers and
 * tests switch on `code`, never on message text; the CLI prints `code: message` on one line.
 */
export class LoopixError extends Error {
  /** Stable machine-readable code, `ERR_LOOPIX_<AREA>_<WHAT>`. */
  readonly code: string;
  /** The config key, flag, file or wire field the error is about, when there is one. */
  readonly field: string | undefined;

  constructor(code: `ERR_LOOPIX_${string}`, message: string, options: { field?: string; cause?: unknown } = {}) {
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
