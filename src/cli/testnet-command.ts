/** `loopix testnet`: a local network of node processes with demo clients (src/testnet/run.ts). */
import type { Command } from 'commander';
import { positiveInt, positiveNumber } from './options.js';
import { runTestnet } from '../testnet/run.js';

export function registerTestnetCommand(program: Command): void {
  program
    .command('testnet')
    .description('run a local Loopix network on loopback (each node its own process) with demo clients and a live table')
    .option('--duration <s>', 'seconds of sending, then drain and print a summary (default: until Ctrl-C)', positiveNumber('--duration'))
    .option('--json', 'print the summary as one JSON object on the last line of stdout (the table goes to stderr)')
    .option('--clients <n>', 'demo clients', positiveInt('--clients'), 4)
    .option('--layers <n>', 'mix layers', positiveInt('--layers'), 3)
    .option('--per-layer <n>', 'mixes per layer', positiveInt('--per-layer'), 2)
    .option('--providers <n>', 'providers', positiveInt('--providers'), 2)
    .option('--message-interval <s>', 'mean seconds between two messages of one client', positiveNumber('--message-interval'), 5)
    .option('--drain-timeout <s>', 'longest wait for in-flight messages and loops after sending stops', positiveNumber('--drain-timeout'), 60)
    .option('--workers <n>', 'crypto worker threads per node', positiveInt('--workers'), 1)
    .option('--mu <rate>', 'per-hop delay parameter µ, 1/s (mean delay 1/µ s)', positiveNumber('--mu'))
    .option('--dir <path>', 'put keys, configs, logs and inboxes here (kept)')
    .option('--keep', 'keep the temporary network directory')
    .action(async (o) => {
      let summary;
      try {
        summary = await runTestnet({
        shape: { layers: o.layers, perLayer: o.perLayer, providers: o.providers, epoch: 1 },
        clients: o.clients,
        durationS: o.duration,
        drainTimeoutS: o.drainTimeout,
        messageIntervalS: o.messageInterval,
        params: o.mu ? { mu: o.mu } : {},
        workersPerNode: o.workers,
        dir: o.dir,
        keep: o.keep === true,
        table: o.json ? process.stderr : process.stdout,
        log: (line) => process.stderr.write(`${line}\n`),
        });
      } catch (err) {
        process.stderr.write(`loopix testnet: ${(err as Error).message}\n`);
        process.exit(2);
      }
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      // A completed run must have delivered everything intact; an interrupted one skipped the drain.
      const ok = summary.interrupted ? summary.delivered_corrupt === 0 : summary.delivered_intact === summary.sent_real && summary.delivered_corrupt === 0;
      if (!ok) process.exitCode = 1;
    });
}
