/**
 * `loopix authority serve --config FILE`: run one directory authority (src/directory/service.ts) in the
 * foreground. `loopix authority keygen` (src/cli/topology-commands.ts) makes its Ed25519 key — and a
 * node's identity key, which has the same form.
 *
 * A bad config or key prints one line naming the problem and exits 2; SIGINT/SIGTERM saves the state and
 * exits 0. With an IPC channel (the testnet) the authority sends `{type: 'ready', port}` once it listens.
 */
import type { Command } from 'commander';
import { loadAuthorityConfig, startAuthority } from '../directory/service.js';
import { nodeIdFor } from '../directory/identity.js';
import { loadIdentityKeyFile } from '../directory/identity-file.js';
import { DEFAULT_GEOMETRY_PARAMS } from '../geometry.js';
import { registerTopologyCommands } from './topology-commands.js';

/** `loopix authority …` and `loopix topology …` together: both build on the `authority` command. */
export function registerDirectoryCommands(program: Command): void {
  registerTopologyCommands(program);
  registerAuthorityCommands(program);
}

export function registerAuthorityCommands(program: Command): void {
  const authority =
    program.commands.find((c) => c.name() === 'authority') ??
    program.command('authority').description('directory authorities');
  authority
    .command('node-id')
    .description("print a node's id (its `id` config field) for its identity key file")
    .requiredOption('--identity <file>', "the node's identity key pair (from `loopix authority keygen --out`)")
    .option(
      '--address-bytes <n>',
      "the network's geometry.addressBytes",
      (v: string) => Number(v),
      DEFAULT_GEOMETRY_PARAMS.addressBytes,
    )
    .action((o: { identity: string; addressBytes: number }) => {
      try {
        const key = loadIdentityKeyFile(o.identity);
        process.stdout.write(
          `${JSON.stringify({ identityKey: key.publicKey, id: nodeIdFor(key.publicKey, o.addressBytes) })}\n`,
        );
      } catch (err) {
        process.stderr.write(`loopix authority node-id: ${(err as Error).message}\n`);
        process.exit(2);
      }
    });
  authority
    .command('serve')
    .description(
      "run a directory authority: collect signed node descriptors and loop reports, sign each epoch's document, exchange signatures with the other authorities",
    )
    .requiredOption(
      '--config <file>',
      'authority config JSON (src/directory/config.ts AuthorityConfigSchema; docs/operations.md "Directory authorities")',
    )
    .action(async (o: { config: string }) => {
      let running;
      try {
        running = await startAuthority(loadAuthorityConfig(o.config));
      } catch (err) {
        const e = err as Error & { code?: string };
        process.stderr.write(`loopix authority serve: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
        process.exit(2);
      }
      const r = running;
      if (typeof process.send === 'function') process.send({ type: 'ready', port: r.port });
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        r.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (typeof process.send === 'function') process.once('disconnect', stop);
    });
}
