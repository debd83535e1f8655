/**
 * Reading a JSON file with an error that names the file and what is wrong with it — the one copy of the
 * read-then-parse steps every config, topology and key loader needs.
 */
import { readFileSync } from 'node:fs';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { LoopixError, type LoopixErrorCode, type LoopixErrorOptions } from '../errors.js';

type ErrorClass = new (message: string, options?: LoopixErrorOptions) => LoopixError;

export interface JsonFileOptions {
  /** What the file is, for the message: "config", "topology file", "key file". */
  readonly label: string;
  /** Code area: failures are ERR_LOOPIX_<area>_UNREADABLE and ERR_LOOPIX_<area>_NOT_JSON. */
  readonly area?: string;
  /** The error class to throw (default LoopixError). */
  readonly error?: ErrorClass;
  /**
   * One code for both failures, for a loader whose errors already carry a stable code of their own (a key
   * file, a link matrix); default: ERR_LOOPIX_<area>_UNREADABLE and ERR_LOOPIX_<area>_NOT_JSON.
   */
  readonly code?: LoopixErrorCode;
  /** The field the error names (default: the file). */
  readonly field?: string;
  /** Accept line and block comments (JSONC, read by jsonc-parser; `loopix init` writes commented configs). */
  readonly comments?: boolean;
}

/** Parses `file` as JSON; throws `o.error` (a LoopixError) naming the file when it cannot be read or parsed. */
export function readJsonFile(file: string, o: JsonFileOptions): unknown {
  const fail = (what: 'UNREADABLE' | 'NOT_JSON', message: string, cause: unknown): never => {
    const code = o.code ?? (`ERR_LOOPIX_${o.area ?? 'FILE'}_${what}` as const);
    const field = o.field ?? file;
    if (o.error) throw new o.error(message, { code, field, cause });
    throw new LoopixError(code, message, { field, cause });
  };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail('UNREADABLE', `${o.label} ${file}: ${(err as Error).message}`, err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (o.comments) {
      const errors: ParseError[] = [];
      const value = parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: false }) as unknown;
      if (errors.length === 0) return value;
    }
    return fail('NOT_JSON', `${o.label} ${file}: not JSON (${(err as Error).message})`, err);
  }
}
