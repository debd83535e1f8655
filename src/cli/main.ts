/**
 * The `loopix` command line (commander). Each subcommand lives in its own module; this file only wires
 * them up, so `--help` on every level lists what exists.
 *
 * Start-up time: a command's module (and with it the benchmarks, plots, simulators, the node) is imported
 * only when that command runs. `loopix --help` and `loopix --version` load commander alone and answer in
 * well under 0.3 s (test/cli-operator.test.ts); `loopix <command> --help` loads that command's module.
 *
 * Errors: anything a command throws ends as one line `loopix <command>: <code>: <message>` on stderr and exit code 2
 * (LoopixError's stable code, src/errors.ts), never a stack trace.
 */
import { Command } from 'commander';
import { errorLine, isLoopixError } from '../errors.js';
import { packageVersion } from '../version.js';
import { reportCliError } from './errors.js';

type Register = (program: Command) => void;

/** Top-level commands: name, one-line description, and the module that registers it (loaded on demand). */
const COMMANDS: readonly {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Register>;
}[] = [
  {
    name: 'init',
    description: 'write a commented, valid config with fresh keys for a mix, a provider or a client',
    load: async () => (await import('./init.js')).registerInitCommand,
  },
  {
    name: 'mix',
    description: 'run a mix node (one stratified layer)',
    load: async () => (await import('./node-commands.js')).registerNodeCommands,
  },
  {
    name: 'provider',
    description: 'run a provider: the mix pipeline plus client WebSockets and SQLite inboxes',
    load: async () => (await import('./node-commands.js')).registerNodeCommands,
  },
  {
    name: 'client',
    description: 'a loopix client: send and receive messages',
    load: async () => (await import('./client-commands.js')).registerClientCommands,
  },
  {
    name: 'keygen',
    description: "generate an X25519 key pair, or a node's key store for rotating keys (--epochs)",
    load: async () => (await import('./misc-commands.js')).registerKeygenCommand,
  },
  {
    name: 'authority',
    description: 'directory authorities: run one (serve), its signing key, node ids',
    load: async () => (await import('./authority-commands.js')).registerDirectoryCommands,
  },
  {
    name: 'topology',
    description: 'signed topology documents: sign and verify',
    load: async () => (await import('./authority-commands.js')).registerDirectoryCommands,
  },
  {
    name: 'testnet',
    description: 'run a local Loopix network (each node its own process) with demo clients and a live table',
    load: async () => (await import('./testnet-command.js')).registerTestnetCommand,
  },
  {
    name: 'chat',
    description: 'serve the browser chat demo (examples/chat) on 127.0.0.1 against a local network',
    load: async () => (await import('./chat.js')).registerChatCommand,
  },
  {
    name: 'selftest',
    description: 'load the Sphinx implementation, check it against known answers and say which one runs',
    load: async () => (await import('./misc-commands.js')).registerSelftestCommand,
  },
  {
    name: 'demo',
    description: 'packets through a 6-hop Sphinx path in one process, with live statistics',
    load: async () => (await import('./misc-commands.js')).registerDemoCommand,
  },
  {
    name: 'bench',
    description: 'benchmarks (each prints packets/s; --json ends with one JSON line)',
    load: async () => (await import('./bench-commands.js')).registerBenchCommands,
  },
  {
    name: 'sim',
    description: 'anonymity simulators after the Loopix paper',
    load: async () => (await import('./sim-command.js')).registerSimCommands,
  },
  {
    name: 'fuzz',
    description: 'random and mutated inputs into the unwrap, the provider session handler and the parsers',
    load: async () => (await import('./misc-commands.js')).registerFuzzCommand,
  },
];

function baseProgram(): Command {
  return (
    new Command('loopix')
      .description('Loopix mix network: Sphinx packets over X25519, Poisson mixing, cover traffic')
      .version(packageVersion(), '-V, --version', 'print the version')
      // Errors stay one line (scripts grep them); commander's suggestion for a mistyped command is part of it.
      .showSuggestionAfterError()
  );
}

/** The full program: every command with its options (loads every command module). */
export async function buildProgram(): Promise<Command> {
  const program = baseProgram();
  const done = new Set<Register>();
  for (const c of COMMANDS) {
    const register = await c.load();
    if (done.has(register)) continue;
    done.add(register);
    register(program);
  }
  return program;
}

/** A bug that escaped every handler: still one line (the stack with LOOPIX_DEBUG=1), exit code 70. */
function onFatal(err: unknown): void {
  if (process.env.LOOPIX_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.stderr.write(
    `loopix: ${isLoopixError(err) ? '' : 'ERR_LOOPIX_INTERNAL: '}${(isLoopixError(err) ? errorLine(err) : ((err as Error)?.message ?? String(err))).split('\n')[0]} (LOOPIX_DEBUG=1 prints the stack)\n`,
  );
  process.exit(70);
}

/** Runs the command line; a failure becomes one line on stderr and exit status 2 (src/cli/errors.ts). */
export async function main(argv: string[]): Promise<void> {
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  const entry = COMMANDS.find((c) => c.name === first);
  const program = baseProgram();
  // The running subcommand's full name (`loopix client send`) prefixes its error line.
  let running = 'loopix';
  program.hook('preAction', (_root, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c; c = c.parent) names.unshift(c.name());
    running = names.join(' ');
  });
  try {
    if (entry) {
      (await entry.load())(program);
    } else {
      // No command (or an unknown one): list the commands without loading any of them.
      for (const c of COMMANDS) program.command(c.name).description(c.description);
    }
    await program.parseAsync(argv);
  } catch (err) {
    reportCliError(err, running);
  }
}
