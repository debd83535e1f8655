/**
 * Structured logging (pino: JSON lines on stderr, cheap when a level is off). One logger per process,
 * children per module (`log.child({ module: 'aqm' })`).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.LOOPIX_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { name, pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
