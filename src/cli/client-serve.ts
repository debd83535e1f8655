/**
 * `loopix client serve`: a long-running client (cover streams, pulls, reconnects) with the local WebSocket
 * API of src/client-api/ in front of it (docs/client-api.md). Prints one JSON line on stdout once listening
 * ({"listening": "ws://127.0.0.1:1978", "address": "loopix1:…"}); runs until SIGINT or SIGTERM; logs and
 * the final statistics go to stderr.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { clientFromConfigFile } from '../client/node.js';
import { prepareClientDirectory } from '../directory/client-setup.js';
import { apiClientFor } from '../client-api/adapter.js';
import { ClientApiServer, DEFAULT_API_PORT } from '../client-api/server.js';
import { positiveInt } from './options.js';
import type { ClientCommandDeps } from './client-commands.js';

export interface ServeOptions {
  config: string;
  host: string;
  port: number;
  allowOffHost?: boolean;
  allowOrigin?: string[];
  maxFrameBytes?: number;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(
      `--port must be an integer 0..65535 (0: any free port), got ${JSON.stringify(value)}`,
    );
  return n;
}

export async function runClientServe(o: ServeOptions, deps: ClientCommandDeps = {}): Promise<void> {
  await prepareClientDirectory(o.config);
  const client = clientFromConfigFile(o.config, deps);
  // Built before the client starts: a refused host fails before anything goes on the wire.
  const api = new ClientApiServer({
    client: apiClientFor(client, (line) => process.stderr.write(`loopix client serve: ${line}\n`)),
    host: o.host,
    port: o.port,
    allowOffHost: o.allowOffHost === true,
    allowedOrigins: o.allowOrigin ?? [],
    ...(o.maxFrameBytes !== undefined ? { maxFrameBytes: o.maxFrameBytes } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
  client.start();
  let listening;
  try {
    listening = await api.start();
  } catch (err) {
    await client.stop();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new InvalidArgumentError(`--port ${o.port}: address ${o.host}:${o.port} is already in use`);
    throw err;
  }
  process.stdout.write(`${JSON.stringify({ listening: listening.url, address: client.address })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await api.stop();
  await client.stop();
  process.stderr.write(`${JSON.stringify({ api: api.stats(), client: client.stats() })}\n`);
}

export function registerClientServe(client: Command): void {
  client
    .command('serve')
    .description(
      'run a client with a local WebSocket API (send, selfAddress, received; JSON or binary frames: docs/client-api.md)',
    )
    .requiredOption('--config <file>', 'client config JSON')
    .option('--host <address>', 'listen address (loopback only unless --allow-off-host)', '127.0.0.1')
    .option('--port <n>', 'listen port (0: any free port; the chosen one is printed)', port, DEFAULT_API_PORT)
    .option(
      '--allow-off-host',
      'allow a --host that is not loopback (the API has no authentication: anyone who reaches it sends and reads as you)',
    )
    .option(
      '--allow-origin <origin>',
      'let web pages from this origin connect (repeatable); other browser origins are refused',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--max-frame-bytes <n>',
      'largest request frame; larger ones get an error frame and a close',
      positiveInt('--max-frame-bytes'),
    )
    .action((o: ServeOptions) => runClientServe(o));
}
