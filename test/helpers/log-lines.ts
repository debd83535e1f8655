/** A client logger that keeps every line it is given, `<level> <message> <fields as JSON>`, for tests to read. */
import type { LogLike } from '../../src/client/connection.js';

export function logLines(): { readonly log: LogLike; readonly lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (fields: object, msg?: string) =>
    void lines.push(`${level} ${msg ?? ''} ${JSON.stringify(fields)}`);
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}
