/**
 * The `loopix` command line (commander). Each subcommand lives in its own module; this file only wires
 * them up, so `--help` on every level lists what exists.
 */
import { Command } from 'commander';
import { errorLine } from '../errors.js';
import { registerBenchCommands } from './bench-commands.js';
import { runDemo } from './demo.js';
import { runFuzzCommand } from './fuzz.js';
import { epochRange, runKeygen } from './keygen.js';
import { registerClientCommands } from './client-commands.js';
import { registerNodeCommands } from './node-commands.js';
import { positiveInt, positiveNumber } from './options.js';
import { runSelftest } from './selftest.js';
import { registerTestnetCommand } from './testnet-command.js';
import { registerSimCommands } from './sim-command.js';
import { registerTopologyCommands } from './topology-commands.js';
import { registerAuthorityCommands } from './authority-commands.js';
import { reportCliError } from './errors.js';
import { packageVersion } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('loopix')
    .description('Loopix mix network: Sphinx packets over X25519, Poisson mixing, cover traffic')
    .version(packageVersion(), '-V, --version', 'print the version');

  registerBenchCommands(program);

  program
    .command('fuzz')
    .description('random and mutated inputs into the native and TypeScript unwrap, the provider session handler, the config and topology parsers')
    .option('--iterations <n>', 'inputs to generate across all targets', positiveInt('--iterations'), 1_000_000)
    .option('--seed <n>', 'random seed (a failing run replays with the same seed)', (v) => Number(v), Date.now() % 1_000_000)
    .option('--targets <names>', 'comma-separated targets to run (default: all)')
    .option('--corpus <dir>', 'corpus to replay first (default: test/fuzz-corpus); "none" to skip')
    .option('--save-corpus <dir>', 'write the first input of each new outcome there')
    .option('--json', 'print the report as one JSON object on the last line')
    .action((o) => runFuzzCommand(o));

  program
    .command('keygen')
    .description('generate an X25519 key pair for a node or client, or a node\'s key store for rotating keys (--epochs)')
    .option('--out <file>', 'write the key pair as JSON to this file (mode 0600) instead of stdout')
    .option('--epochs <A..B>', 'a key store with one key per epoch A..B (docs/operations.md "Key epochs")', epochRange)
    .option('--append', 'with --epochs and --out: add the missing epochs to an existing key store')
    .action((o) => {
      try {
        runKeygen(o);
      } catch (err) {
        process.stderr.write(`loopix keygen: ${errorLine(err)}\n`);
        process.exit(2);
      }
    });

  program
    .command('selftest')
    .description('load the Sphinx implementation, check it against known answers and say which one runs')
    .action(() => runSelftest());

  program
    .command('demo')
    .description('packets through a 6-hop Sphinx path in one process, with live statistics (Ctrl-C stops)')
    .option('--seconds <s>', 'stop after this many seconds (default: run until Ctrl-C)', positiveNumber('--seconds'))
    .option('--rate <n>', 'packets created per second', positiveInt('--rate'), 2000)
    .action((o) => runDemo(o));

  registerNodeCommands(program);
  registerClientCommands(program);
  registerTestnetCommand(program);
  registerSimCommands(program);
  registerTopologyCommands(program);
  registerAuthorityCommands(program);

  return program;
}

/** Runs the command line; a failure becomes one line on stderr and exit status 2 (src/cli/errors.ts). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // The running subcommand's full name (`loopix client send`) prefixes its error line.
  let running = 'loopix';
  program.hook('preAction', (_root, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c; c = c.parent) names.unshift(c.name());
    running = names.join(' ');
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    reportCliError(err, running);
  }
}
