/**
 * Small top-level commands (keygen, selftest, demo, fuzz). Each action imports its implementation when it
 * runs, so registering them (for `loopix <command> --help`) loads nothing heavy (src/cli/main.ts).
 */
import type { Command } from 'commander';
import { errorLine } from '../errors.js';
import { epochRange, runKeygen } from './keygen.js';
import type { FuzzCommandOptions } from './fuzz.js';
import { positiveInt, positiveNumber } from './options.js';

export function registerKeygenCommand(program: Command): void {
  program
    .command('keygen')
    .description("generate an X25519 key pair for a node or client, or a node's key store for rotating keys (--epochs)")
    .option('--out <file>', 'write the key pair as JSON to this file (mode 0600) instead of stdout')
    .option('--epochs <A..B>', 'a key store with one key per epoch A..B (docs/operations.md "Key epochs")', epochRange)
    .option('--append', 'with --epochs and --out: add the missing epochs to an existing key store')
    .action((o: Parameters<typeof runKeygen>[0]) => {
      try {
        runKeygen(o);
      } catch (err) {
        process.stderr.write(`loopix keygen: ${errorLine(err)}\n`);
        process.exit(2);
      }
    });
}

export function registerSelftestCommand(program: Command): void {
  program
    .command('selftest')
    .description('load the Sphinx implementation, check it against known answers and say which one runs')
    .action(async () => (await import('./selftest.js')).runSelftest());
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('packets through a 6-hop Sphinx path in one process, with live statistics (Ctrl-C stops)')
    .option('--seconds <s>', 'stop after this many seconds (default: run until Ctrl-C)', positiveNumber('--seconds'))
    .option('--rate <n>', 'packets created per second', positiveInt('--rate'), 2000)
    .action(async (o: { seconds?: number; rate: number }) => (await import('./demo.js')).runDemo(o));
}

export function registerFuzzCommand(program: Command): void {
  program
    .command('fuzz')
    .description(
      'random and mutated inputs into the native and TypeScript unwrap, the provider session handler, the config and topology parsers',
    )
    .option('--iterations <n>', 'inputs to generate across all targets', positiveInt('--iterations'), 1_000_000)
    .option(
      '--seed <n>',
      'random seed (a failing run replays with the same seed)',
      (v) => Number(v),
      Date.now() % 1_000_000,
    )
    .option('--targets <names>', 'comma-separated targets to run (default: all)')
    .option('--corpus <dir>', 'corpus to replay first (default: test/fuzz-corpus); "none" to skip')
    .option('--save-corpus <dir>', 'write the first input of each new outcome there')
    .option('--json', 'print the report as one JSON object on the last line')
    .action(async (o: FuzzCommandOptions) => (await import('./fuzz.js')).runFuzzCommand(o));
}
