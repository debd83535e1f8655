/**
 * `loopix chat`: serves the browser chat demo (examples/chat/) on 127.0.0.1 against a local network made by
 * `loopix testnet --dir <dir>` (README "Chat demo"). The page is bundled with esbuild at start-up (no plugin,
 * no Node polyfill) and runs the browser client (`loopix/browser`): the TypeScript Sphinx twin, the browser's
 * WebSocket straight to a provider, IndexedDB for keys and pending state. This server only hands out files:
 *
 *   GET /             examples/chat/index.html
 *   GET /chat.js      the bundle of examples/chat/chat.ts
 *   GET /config.json  what the page needs: the trust (authority key, or the directory's k of n keys), the
 *                     network parameters, the topology URL
 *   GET /topology.json the current signed document (the static file, or the current epoch's from the
 *                     authorities); the page verifies it itself before using it
 *
 * Node-only (esbuild, node:http); nothing here is in the browser bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ClientConfigSchema, loadConfigFile, type NetworkParams } from '../config/schema.js';
import { epochAtMs } from '../directory/document.js';
import { DirectoryFetcher } from '../directory/fetcher.js';
import { LoopixError } from '../errors.js';
import { repoRoot } from '../paths.js';
import { numberOption } from './options.js';
import { isLoopbackHost } from '../client-api/bind.js';

/** Where the chat page's sources are. */
export function chatDir(): string {
  return join(repoRoot(), 'examples', 'chat');
}

/**
 * Bundles one browser entry with esbuild: ESM, platform browser, minified, no plugin. Node built-ins are
 * left as external imports rather than failing the build, so a scan of the output (test/browser-bundle.test.ts)
 * can name any that is reachable; a bundle for the page must have none.
 */
export async function buildBrowserBundle(entry: string): Promise<{ code: string; imports: string[] }> {
  const { build } = await import('esbuild').catch((err: unknown) => {
    throw new LoopixError(
      'ERR_LOOPIX_CHAT_ESBUILD',
      `esbuild is a devDependency of the project: run npm install in a clone (${(err as Error).message})`,
    );
  });
  const { builtinModules } = await import('node:module');
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    metafile: true,
    logLevel: 'silent',
    external: ['node:*', ...builtinModules],
  });
  const imports = [
    ...new Set(Object.values(r.metafile.inputs).flatMap((i) => i.imports.filter((x) => x.external).map((x) => x.path))),
  ];
  return { code: r.outputFiles[0]!.text, imports };
}

export interface ChatPageConfig {
  readonly trust: string | { readonly authorities: readonly string[]; readonly threshold: number };
  readonly params: NetworkParams;
  readonly topologyUrl: string;
}

export interface ChatServerOptions {
  /** A client config of the network (e.g. first-net/clients/alice.json): its trust and parameters are used. */
  readonly clientConfig: string;
  readonly host?: string;
  /** 0: any free port. */
  readonly port?: number;
}

export interface ChatServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Builds the page and serves it; resolves once listening. */
export async function startChatServer(o: ChatServerOptions): Promise<ChatServer> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopbackHost(host))
    throw new LoopixError(
      'ERR_LOOPIX_CHAT_HOST',
      `--host ${host} is not a loopback address: the demo serves keys' pages to this machine only`,
      { field: 'host' },
    );
  const config = loadConfigFile(ClientConfigSchema, o.clientConfig);
  const base = dirname(resolve(o.clientConfig));
  const fetcher = config.directory ? new DirectoryFetcher(config.directory) : undefined;
  const page: ChatPageConfig = {
    trust: fetcher ? fetcher.trust : config.authorityPublicKey!,
    params: config.params,
    topologyUrl: '/topology.json',
  };
  if (!existsSync(join(chatDir(), 'chat.ts'))) {
    throw new LoopixError(
      'ERR_LOOPIX_CHAT_SOURCES',
      `no chat page sources in ${chatDir()}: run loopix chat in a clone of the repository (the package does not ship examples/)`,
      { field: 'examples/chat' },
    );
  }
  const bundle = await buildBrowserBundle(join(chatDir(), 'chat.ts'));
  if (bundle.imports.length > 0)
    throw new LoopixError(
      'ERR_LOOPIX_CHAT_BUNDLE',
      `the chat bundle imports Node built-ins: ${bundle.imports.join(', ')}`,
    );
  const html = readFileSync(join(chatDir(), 'index.html'));
  let cached: { doc: string; untilMs: number } | undefined;
  const topology = async (): Promise<string> => {
    if (!fetcher) return readFileSync(resolve(base, config.topologyFile), 'utf8');
    if (cached && Date.now() < cached.untilMs) return cached.doc;
    const s = await fetcher.schedule();
    const epoch = epochAtMs(s, Date.now());
    const doc = await fetcher.document(epoch);
    cached = { doc: JSON.stringify(doc), untilMs: s.genesisMs + (epoch + 1 - s.genesisEpoch) * s.epochLengthS * 1000 };
    return cached.doc;
  };
  const server = createServer((req, res) => {
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, 'text/plain', 'GET only\n');
    if (path === '/' || path === '/index.html') return send(200, 'text/html; charset=utf-8', html);
    if (path === '/chat.js') return send(200, 'text/javascript; charset=utf-8', bundle.code);
    if (path === '/config.json') return send(200, 'application/json', JSON.stringify(page));
    if (path === '/topology.json') {
      topology().then(
        (doc) => send(200, 'application/json', doc),
        (err: unknown) => send(503, 'text/plain', `no topology document: ${(err as Error).message}\n`),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

export function registerChatCommand(program: Command): void {
  program
    .command('chat')
    .description(
      'serve the browser chat demo (examples/chat) on 127.0.0.1 against a network of `loopix testnet --dir <dir>`',
    )
    .option('--dir <dir>', 'the testnet folder (its clients/alice.json gives the trust and parameters)', 'first-net')
    .option(
      '--port <n>',
      'HTTP port on 127.0.0.1 (0: any free port)',
      numberOption('--port', (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'an integer in 0..65535'),
      8080,
    )
    .action(async (opts: { dir: string; port: number }) => {
      const chat = await startChatServer({ clientConfig: join(opts.dir, 'clients', 'alice.json'), port: opts.port });
      process.stdout.write(
        `chat demo on ${chat.url} — open ${chat.url}?name=alice and ${chat.url}?name=bob (Ctrl-C stops)\n`,
      );
      await new Promise<void>((ok) => process.once('SIGINT', () => void chat.close().then(ok)));
    });
}
