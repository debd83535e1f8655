/** `loopix testnet`: a local network of node processes with demo clients (src/testnet/run.ts). */
import { Option, type Command } from 'commander';
import { errorLine } from '../errors.js';
import { nonNegativeNumber, numberOption, positiveInt, positiveNumber } from './options.js';
import { DEFAULT_EPOCH_LENGTH_S } from '../topology/document.js';
import { runTestnet } from '../testnet/run.js';
import { formatMixing } from '../mixing/format.js';
import { parseMisbehave } from '../node/faults.js';
import { linkMatrix } from '../testnet/netns.js';

/** The options commander parses for `loopix testnet` (see the option list below). */
interface TestnetOptions {
  duration?: number;
  json?: boolean;
  clients: number;
  layers: number;
  perLayer: number;
  providers: number;
  messageInterval?: number;
  drainTimeout: number;
  workers: number;
  pipeline: 'pool' | 'sharded';
  mu?: number;
  epochLength: number;
  dir?: string;
  keep?: boolean;
  checkMixing?: boolean;
  postOffice?: boolean;
  misbehave?: string[];
  kill?: string;
  killAt?: number;
  restartAt?: number;
  drainQuiet: number;
  netns?: string | true;
  authorities: number;
  f?: number;
  prometheus?: boolean;
}

export function registerTestnetCommand(program: Command): void {
  program
    .command('testnet')
    .description(
      'run a local Loopix network on loopback (each node its own process) with demo clients and a live table',
    )
    .option(
      '--duration <s>',
      'seconds of sending, then drain and print a summary (default: until Ctrl-C)',
      positiveNumber('--duration'),
    )
    .option('--json', 'print the summary as one JSON object on the last line of stdout (the table goes to stderr)')
    .option('--clients <n>', 'demo clients', positiveInt('--clients'), 4)
    .option('--layers <n>', 'mix layers', positiveInt('--layers'), 3)
    .option('--per-layer <n>', 'mixes per layer', positiveInt('--per-layer'), 2)
    .option('--providers <n>', 'providers', positiveInt('--providers'), 2)
    .option(
      '--message-interval <s>',
      'mean seconds between two messages of one client (default: so that messages and their acks fill half of the λP slots; summary field offered_load)',
      positiveNumber('--message-interval'),
    )
    .option(
      '--drain-timeout <s>',
      'longest wait for in-flight messages and loops after sending stops',
      positiveNumber('--drain-timeout'),
      60,
    )
    .option('--workers <n>', 'crypto worker threads per node', positiveInt('--workers'), 1)
    .addOption(
      new Option(
        '--pipeline <mode>',
        'packet path of every node: pool (one socket, crypto pool) or sharded (a SO_REUSEPORT socket per worker)',
      )
        .choices(['pool', 'sharded'])
        .default('pool'),
    )
    .option('--mu <rate>', 'per-hop delay parameter µ, 1/s (mean delay 1/µ s)', positiveNumber('--mu'))
    .option(
      '--epoch-length <s>',
      'seconds per key epoch: keys rotate and the directory authorities publish each epoch\'s document (0: static keys and one signed file; docs/operations.md "Key epochs")',
      nonNegativeNumber('--epoch-length'),
      DEFAULT_EPOCH_LENGTH_S,
    )
    .option(
      '--authorities <n>',
      'directory authorities to start with rotating keys (documents valid with a majority of signatures)',
      positiveInt('--authorities'),
      3,
    )
    .option(
      '--f <n>',
      'bad-server isolation: a node named by more than f distinct reporters is excluded',
      numberOption('--f', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0'),
    )
    .option('--dir <path>', 'put keys, configs, logs and inboxes here (kept)')
    .option('--keep', 'keep the temporary network directory')
    .option(
      '--post-office',
      'provider-0 also serves as a post office: every demo client opens an anonymous mailbox there and messages go to mailboxes (docs/pipeline.md "Post office")',
    )
    .option(
      '--check-mixing',
      'with --duration: probe the nodes and one client and test the traffic against the Loopix model (summary field `mixing`; docs/anonymity.md)',
    )
    .option(
      '--misbehave <node:faults>',
      'make a node misbehave on purpose, e.g. mix-2.0:drop=0.3 or mix-1.1:delay=250,tag=0.05 (repeatable; src/node/faults.ts)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--kill <node>',
      'SIGKILL this node (e.g. mix-2.0) during sending; the summary counts the loss (src/testnet/failures.ts)',
    )
    .option('--kill-at <s>', 'with --kill: seconds after sending starts', positiveNumber('--kill-at'))
    .option(
      '--restart-at <s>',
      'with --kill: restart the node (same key and port) this many seconds after sending starts',
      positiveNumber('--restart-at'),
    )
    .option(
      '--netns [links]',
      'every node in its own network namespace on a bridge, links shaped by tc netem: lan (default), continents (AnonPoP §8.2), none (unshaped), or a matrix JSON file; needs root (src/testnet/netns.ts)',
    )
    .option(
      '--prometheus',
      "start a Prometheus server (Debian's prometheus) scraping every node's /metrics on loopback; summary field `prometheus`",
    )
    .option(
      '--drain-quiet <s>',
      'with --kill: end the drain once nothing arrived for this long',
      positiveNumber('--drain-quiet'),
      10,
    )
    .action(async (o: TestnetOptions) => {
      let summary;
      if (o.checkMixing && o.duration === undefined) {
        process.stderr.write('loopix testnet: --check-mixing needs --duration <s> (60 or more)\n');
        process.exit(2);
      }
      if ((o.killAt !== undefined || o.restartAt !== undefined) && o.kill === undefined) {
        process.stderr.write('loopix testnet: --kill-at and --restart-at need --kill <node>\n');
        process.exit(2);
      }
      if (o.kill !== undefined && o.killAt === undefined) {
        process.stderr.write('loopix testnet: --kill needs --kill-at <s>\n');
        process.exit(2);
      }
      try {
        const misbehave = Object.fromEntries(
          (o.misbehave ?? []).map((spec) => {
            const { node, faults } = parseMisbehave(spec);
            return [node, faults];
          }),
        );
        summary = await runTestnet({
          misbehave,
          authorities: o.authorities,
          ...(o.f !== undefined ? { isolation: { f: o.f } } : {}),
          shape: {
            layers: o.layers,
            perLayer: o.perLayer,
            providers: o.providers,
            epoch: 1,
            ...(o.epochLength > 0 ? { epochLengthS: o.epochLength } : {}),
          },
          clients: o.clients,
          durationS: o.duration,
          drainTimeoutS: o.drainTimeout,
          messageIntervalS: o.messageInterval,
          params: o.mu ? { mu: o.mu } : {},
          workersPerNode: o.workers,
          pipelineMode: o.pipeline,
          dir: o.dir,
          keep: o.keep === true,
          checkMixing: o.checkMixing === true,
          postOffice: o.postOffice === true,
          failures:
            o.kill === undefined || o.killAt === undefined
              ? []
              : [{ node: o.kill, killAtS: o.killAt, restartAtS: o.restartAt }],
          drainQuietS: o.drainQuiet,
          prometheus: o.prometheus === true,
          ...(o.netns ? { netns: linkMatrix(o.netns === true ? 'lan' : String(o.netns)) } : {}),
          table: o.json ? process.stderr : process.stdout,
          log: (line) => process.stderr.write(`${line}\n`),
        });
      } catch (err) {
        process.stderr.write(`loopix testnet: ${errorLine(err)}\n`);
        process.exit(2);
      }
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (!o.json && summary.mixing) process.stdout.write(formatMixing(summary.mixing));
      // A completed run must have delivered everything intact; an interrupted one skipped the drain. With an
      // injected failure loss is expected, but not corruption, a failed restart, or loss after the restart.
      const after = summary.delivery_after_restart;
      const failuresOk =
        summary.failures.every((f) => f.restart_error === null) && (after === null || after.delivered === after.sent);
      const ok = summary.interrupted
        ? summary.delivered_corrupt === 0
        : summary.failures.length > 0
          ? failuresOk && summary.delivered_corrupt === 0
          : summary.delivered_intact === summary.sent_real && summary.delivered_corrupt === 0;
      if (!ok) process.exitCode = 1;
    });
}
