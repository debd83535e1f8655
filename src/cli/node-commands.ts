/**
 * `loopix mix --config FILE` and `loopix provider --config FILE`: run one node in the foreground.
 *
 * Start-up problems (a bad config, a topology that does not verify, a key that does not match, a port in
 * use) print one line naming the problem on stderr and exit with code 2. Once running, the node reports its
 * statistics every `statsIntervalS` (an IPC message when started with an IPC channel, else a JSON line on
 * stdout), logs JSON on stderr, and on SIGINT/SIGTERM stops accepting, closes its sockets, worker pool and
 * inbox, and exits 0.
 */
import type { Command } from 'commander';
import { startMixNode, type RunningNode } from '../node/mix.js';
import { startProviderNode } from '../node/provider.js';
import { wipeKeys } from '../node/keys.js';
import { loadNodeSetup } from '../node/startup.js';
import { NodeDirectoryAgent } from '../directory/node-agent.js';
import { createLogger } from '../log.js';
import type { Role } from '../topology/types.js';
import type { NodeSetup } from '../node/pipeline.js';
import { errorLine, LoopixError } from '../errors.js';
import { checkOpsBinding, startNodeOps } from '../ops/node-ops.js';
import type { OpsServer } from '../ops/http.js';

/** Exit code for every start-up failure. */
export const EXIT_STARTUP = 2;

export function registerNodeCommands(program: Command): void {
  program
    .command('mix')
    .description(
      'run a mix node (one stratified layer): UDP in, unwrap, replay check, Poisson delay, forward; own loops at λM',
    )
    .requiredOption('--config <file>', 'node config JSON (see src/config/schema.ts NodeConfigSchema)')
    .action((o: { config: string }) => runNodeCommand('mix', o.config));
  program
    .command('provider')
    .description('run a provider: the mix pipeline plus client WebSockets and SQLite inboxes')
    .requiredOption('--config <file>', 'node config JSON with a provider section')
    .action((o: { config: string }) => runNodeCommand('provider', o.config));
}

function startupFailure(role: Role, err: unknown): never {
  process.stderr.write(`loopix ${role}: ${errorLine(err)}\n`);
  process.exit(EXIT_STARTUP);
}

/**
 * A provider whose uWebSockets.js binary did not load serves clients through uWS's JS fallback, many times
 * slower (its binaries exist for Node 20 on Linux/macOS x64/arm64; package.json `engines`). Refuse to run
 * that way unless the config says `provider.allowJsWebSocket: true`; either way `loopix_ws_uws_native`
 * says which one runs.
 */
function requireNativeWebSocket(node: RunningNode, setup: NodeSetup): void {
  if (node.role !== 'provider' || setup.config.provider?.allowJsWebSocket) return;
  if (node.snapshot().gauges.uws_native === 0) {
    throw new LoopixError(
      'ERR_LOOPIX_PROVIDER_UWS_FALLBACK',
      `uWebSockets.js has no native binary for Node ${process.versions.node} on ${process.platform}-${process.arch} and would run its slow JS fallback: use Node 20, or set provider.allowJsWebSocket to true`,
      { field: 'provider.allowJsWebSocket' },
    );
  }
}

export async function runNodeCommand(role: Role, configFile: string): Promise<void> {
  let node: RunningNode;
  let ops: OpsServer | undefined;
  let agent: NodeDirectoryAgent | undefined;
  try {
    // With a `directory` section: announce this node and obtain the current document first (src/directory/).
    agent = await NodeDirectoryAgent.prepare(
      configFile,
      role,
      createLogger(`${role} directory`, process.env.LOOPIX_LOG_LEVEL),
    );
    const setup = loadNodeSetup(configFile, role);
    checkOpsBinding(setup);
    node = role === 'mix' ? await startMixNode(setup) : await startProviderNode(setup);
    // The running node's keyring holds its own copies; the parsed key file's are wiped (docs/operations.md
    // "Key files, clocks and client connections").
    wipeKeys([...(setup.keys ?? []), setup.keyPair]);
    try {
      requireNativeWebSocket(node, setup);
      ops = await startNodeOps(node, setup);
    } catch (err) {
      await node.close().catch(() => undefined);
      throw err;
    }
    agent?.start(node);
  } catch (err) {
    startupFailure(role, err);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    agent?.stop();
    const timeout = setTimeout(() => {
      process.stderr.write(`loopix ${role}: shutdown took longer than 10 s after ${signal}; exiting\n`);
      process.exit(1);
    }, 10_000);
    timeout.unref();
    Promise.all([node.close(), ops?.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`loopix ${role}: error while shutting down: ${(err as Error)?.message ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // A parent that started us with IPC and goes away takes the node with it — also when it went away while we
  // were still starting (the 'disconnect' event has then already fired).
  if (typeof process.send === 'function') {
    if (!process.connected) stop('disconnect during start-up');
    else process.once('disconnect', () => stop('disconnect'));
  }
}
