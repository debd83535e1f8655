/**
 * The benchmark rig's one request/reply over a child process's IPC channel (the relay rig's generator and
 * sink, the figure benchmarks' client hosts), and where their compiled scripts are.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../paths.js';

/**
 * Sends `msg` and resolves with the child's first message of type `reply`; rejects on an `{type: 'error'}`
 * message, on the child's exit, or after `timeoutMs`. `label` names the child in the error.
 */
/** What request() needs of a child: a forked process, or a RemoteChild on a bench agent (src/bench/agent.ts). */
export interface RequestTarget {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape of ChildProcess's and EventEmitter's overloads
  on(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  once(event: string, listener: (...args: any[]) => void): unknown;
  send(msg: object): boolean;
}

export function request<T>(
  child: RequestTarget,
  msg: object,
  reply: string,
  o: { timeoutMs?: number; label?: string } = {},
): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 120_000;
  const label = o.label ? `${o.label}: ` : '';
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${label}no '${reply}' reply within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { type?: string; message?: string }) => {
      if (m?.type === reply) done(null, m as T);
      else if (m?.type === 'error') done(new Error(`${label}${m.message}`));
    };
    const onExit = (code: number | null) => done(new Error(`${label}child exited with code ${code}`));
    const done = (err: Error | null, value?: T) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value!);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(msg);
  });
}

/** A compiled benchmark script: next to this module in dist/, else (vitest on the sources) in dist/src/bench/. */
export function benchScript(name: string): string {
  const sibling = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  if (existsSync(sibling)) return sibling;
  const compiled = join(repoRoot(), 'dist', 'src', 'bench', `${name}.js`);
  if (existsSync(compiled)) return compiled;
  throw new Error(
    `${name}.js not found next to ${fileURLToPath(import.meta.url)} or in dist/src/bench; run \`npm run build:ts\``,
  );
}
