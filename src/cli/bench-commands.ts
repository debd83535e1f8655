/**
 * `loopix bench …`: every benchmark as a subcommand (docs/benchmarks.md). Each prints a human table on stderr
 * and, with --json, one JSON object as the last line of stdout; the long-running ones also write
 * `<results-dir>/<name>.json` and `.svg` (default ./loopix-bench-results; the committed bench/results only when
 * asked with `--results-dir bench/results`).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  COST_DEFAULTS,
  DEFAULT_SCENARIOS,
  computeCost,
  defaultRelayFile,
  readRelayResult,
  saveCost,
} from '../bench/cost.js';
import type { TestbedFigureOptions } from '../bench/figures/testnet.js';
import { FIG10_DEFAULTS, runFig10, saveFig10 } from '../bench/figures/fig10.js';
import { FIG8_DEFAULTS, runFig8, saveFig8 } from '../bench/figures/fig8.js';
import { FIG9_DEFAULTS, runFig9, saveFig9 } from '../bench/figures/fig9.js';
import { GATE_DEFAULTS, defaultBaselineFile, runGate } from '../bench/gate.js';
import { OVERLOAD_DEFAULTS, runOverloadBench, saveOverloadResults } from '../bench/overload.js';
import { RELAY_DEFAULTS, runRelayBench, saveRelayResults } from '../bench/relay.js';
import { LINK_BENCH_DEFAULTS, runLinkBench } from '../bench/link.js';
import { defaultResultsDir } from '../bench/env.js';
import { DEFAULT_BENCH_PIPELINE } from '../bench/rig.js';
import { logToStderr, printResult, runBenchSphinx } from './bench.js';
import { parseHostPort, startAgent } from '../bench/agent.js';
import { nonNegativeNumber, positiveInt, positiveNumber } from './options.js';

/** Runs `body`; a failure prints one line on stderr and exits 1 (no stack trace for a benchmark that cannot run). */
async function guarded(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    process.stderr.write(`loopix bench ${name}: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}

/** The options every result-writing benchmark has (withResults below). */
interface ResultOptions {
  readonly json?: boolean;
  readonly save: boolean;
  readonly resultsDir: string;
}

/**
 * The one action of every result-writing benchmark: run it, write `<results-dir>/<name>.json|svg` unless
 * --no-save, print the result (a table on stderr, with --json one JSON line on stdout); a failure is one line
 * on stderr and exit code 1.
 */
function benchAction<O extends ResultOptions, R extends object>(
  name: string,
  run: (o: O) => Promise<R> | R,
  write: (dir: string, r: R) => Promise<string[]>,
) {
  return (o: O) =>
    guarded(name, async () => {
      const r = await run(o);
      if (o.save) logToStderr(`results: ${(await write(o.resultsDir, r)).join(', ')}`);
      printResult(r, o.json);
    });
}

function hostPort(name: string) {
  return (value: string) => {
    try {
      return parseHostPort(value, name);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

/** --pipeline: the benchmarked node's packet path (node config pipeline.mode). */
function pipelineOption(): Option {
  return new Option(
    '--pipeline <mode>',
    'packet path of the node under test: pool (one socket, crypto pool) or sharded (a SO_REUSEPORT socket per worker)',
  )
    .choices(['pool', 'sharded'])
    .default(DEFAULT_BENCH_PIPELINE);
}

function intList(name: string) {
  return (value: string): number[] => {
    const list = value.split(',').map((v) => Number(v.trim()));
    if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 0))
      throw new InvalidArgumentError(
        `${name} must be a comma-separated list of integers ≥ 0, got ${JSON.stringify(value)}`,
      );
    return list;
  };
}

/** The testbed figures' options (fig8/9/10, after their own): warm-up, seconds measured, clients' pull interval. */
function testbedOptions(
  c: Command,
  d: { readonly warmupS: number; readonly measureS: number; readonly pullIntervalMs: number },
  measured: string,
): Command {
  return c
    .option('--warmup-seconds <s>', 'seconds before measuring', positiveNumber('--warmup-seconds'), d.warmupS)
    .option('--seconds <s>', measured, positiveNumber('--seconds'), d.measureS)
    .option('--pull-interval-ms <n>', "clients' pull interval", positiveInt('--pull-interval-ms'), d.pullIntervalMs);
}

/** What testbedOptions and withResults' --openssl-seconds give a testbed figure's run. */
function testbedParams(o: {
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly pullIntervalMs: number;
  readonly opensslSeconds: number;
}): TestbedFigureOptions {
  return {
    warmupS: o.warmupSeconds,
    measureS: o.seconds,
    pullIntervalMs: o.pullIntervalMs,
    opensslSeconds: o.opensslSeconds,
    log: logToStderr,
  };
}

export function registerBenchCommands(program: Command): void {
  const bench = program
    .command('bench')
    .description('benchmarks (each prints packets/s; --json ends with one JSON line)');

  bench
    .command('sphinx')
    .description('Sphinx create/unwrap per second on one core, native and TypeScript, against openssl speed ecdhx25519')
    .option('--json', 'print the result as one JSON object on the last line')
    .option('--seconds <s>', 'seconds per measurement', positiveNumber('--seconds'), 3)
    .option('--batch <n>', 'packets per batch-unwrap call', positiveInt('--batch'), 64)
    .option('--openssl-seconds <s>', 'seconds for the openssl baseline (0 skips it)', (v) => Number(v), 3)
    .action((o) => runBenchSphinx(o));

  bench
    .command('link')
    .description(
      "node ↔ node link layer (seal + open) per packet against the Sphinx unwrap, paired slices on one core, and the link's share of a hop",
    )
    .option('--json', 'print the result as one JSON object on the last line')
    .option('--seconds <s>', 'seconds of timed slices in all', positiveNumber('--seconds'), LINK_BENCH_DEFAULTS.seconds)
    .option(
      '--pairs <n>',
      'slice pairs (link, AEAD alone, unwrap each)',
      positiveInt('--pairs'),
      LINK_BENCH_DEFAULTS.pairs,
    )
    .option(
      '--batch <n>',
      'datagrams / packets per call (the pipeline batchSize)',
      positiveInt('--batch'),
      LINK_BENCH_DEFAULTS.batch,
    )
    .action((o: { json?: boolean; seconds: number; pairs: number; batch: number }) =>
      guarded('link', () => {
        printResult(runLinkBench({ ...o, log: logToStderr }), o.json);
        return Promise.resolve();
      }),
    );

  const withResults = (c: Command) =>
    c
      .option('--json', 'print the result as one JSON object on the last line')
      .option('--results-dir <dir>', 'write <name>.json and <name>.svg here', defaultResultsDir())
      .option('--no-save', 'do not write result files')
      .option(
        '--openssl-seconds <s>',
        'seconds for the openssl ecdhx25519 baseline (0 skips it)',
        nonNegativeNumber('--openssl-seconds'),
        RELAY_DEFAULTS.opensslSeconds,
      );

  withResults(
    bench
      .command('relay')
      .description(
        'capacity of one mix node process fed over UDP: highest rate with loss < 0.1 %, per-hop latency at 25/50/75 % of it',
      ),
  )
    .option('--workers <n>', 'crypto workers of the node', positiveInt('--workers'), RELAY_DEFAULTS.workers)
    .option(
      '--step-seconds <s>',
      'seconds per search step',
      positiveNumber('--step-seconds'),
      RELAY_DEFAULTS.stepSeconds,
    )
    .option(
      '--latency-seconds <s>',
      'seconds per latency measurement',
      positiveNumber('--latency-seconds'),
      RELAY_DEFAULTS.latencySeconds,
    )
    .option(
      '--start-rate <n>',
      'first offered rate, packets/s',
      positiveNumber('--start-rate'),
      RELAY_DEFAULTS.startRate,
    )
    .option(
      '--resolution <f>',
      'stop the search when failing/passing rate ≤ 1 + f',
      positiveNumber('--resolution'),
      RELAY_DEFAULTS.resolution,
    )
    .option('--max-steps <n>', 'most search steps', positiveInt('--max-steps'), RELAY_DEFAULTS.maxSteps)
    .option('--max-loss <f>', 'loss a passing step may have', positiveNumber('--max-loss'), RELAY_DEFAULTS.maxLoss)
    .option(
      '--pool <n>',
      'distinct pre-built packets the generator cycles through',
      positiveInt('--pool'),
      RELAY_DEFAULTS.poolSize,
    )
    .option('--searches <n>', 'searches whose median is reported', positiveInt('--searches'), RELAY_DEFAULTS.searches)
    .addOption(pipelineOption())
    .option('--scaling', 'also measure a node with one worker and report the workers-vs-one ratio')
    .option(
      '--x25519-seconds <s>',
      "seconds for the addon's X25519 rate X (0 skips it)",
      nonNegativeNumber('--x25519-seconds'),
      RELAY_DEFAULTS.x25519Seconds,
    )
    .option(
      '--target <host:port>',
      "the node's UDP address (on this host; where the generator sends; default 127.0.0.1 and a free port)",
      hostPort('--target'),
    )
    .option(
      '--listen <host:port>',
      "the sink's UDP address (on the sink's host; default 127.0.0.1 and a free port)",
      hostPort('--listen'),
    )
    .option(
      '--generator-agent <host:port>',
      'run the load generator on the `loopix bench agent` at this address',
      hostPort('--generator-agent'),
    )
    .option(
      '--sink-agent <host:port>',
      'run the sink on the `loopix bench agent` at this address',
      hostPort('--sink-agent'),
    )
    .action(
      benchAction(
        'relay',
        (o) =>
          runRelayBench({
            ...RELAY_DEFAULTS,
            ...o,
            poolSize: o.pool,
            resultsDir: o.save ? o.resultsDir : null,
            remote: { target: o.target, listen: o.listen, generatorAgent: o.generatorAgent, sinkAgent: o.sinkAgent },
            log: logToStderr,
          }),
        saveRelayResults,
      ),
    );

  bench
    .command('agent')
    .description(
      "run the relay rig's load generator or sink on this host for a `loopix bench relay` on another (--generator-agent / --sink-agent there)",
    )
    .requiredOption(
      '--listen <host:port>',
      'TCP control address (a private network: the agent trusts whoever connects)',
      hostPort('--listen'),
    )
    .action((o: { listen: { host: string; port: number } }) =>
      guarded('agent', async () => {
        await startAgent({ ...o.listen, log: logToStderr });
        logToStderr(`bench agent listening on ${o.listen.host}:${o.listen.port}`);
        await new Promise<void>(() => undefined); // until killed
      }),
    );

  withResults(
    bench
      .command('overload')
      .description(
        'one mix node offered 2× its sustained rate for 60 s: goodput, queueing delay, memory, AQM drop probability over time, recovery',
      ),
  )
    .option('--workers <n>', 'crypto workers of the node', positiveInt('--workers'), RELAY_DEFAULTS.workers)
    .option(
      '--max-rate <n>',
      'the sustained rate (packets/s); default: measured first with the relay search',
      positiveNumber('--max-rate'),
    )
    .option('--factor <f>', 'overload factor', positiveNumber('--factor'), OVERLOAD_DEFAULTS.factor)
    .option('--seconds <s>', 'seconds of overload', positiveNumber('--seconds'), OVERLOAD_DEFAULTS.seconds)
    .option(
      '--step-seconds <s>',
      'seconds per search step (when measuring the sustained rate)',
      positiveNumber('--step-seconds'),
      OVERLOAD_DEFAULTS.stepSeconds,
    )
    .option(
      '--recovery-seconds <s>',
      'seconds of half load after the overload',
      positiveNumber('--recovery-seconds'),
      OVERLOAD_DEFAULTS.recoverySeconds,
    )
    .option(
      '--pool <n>',
      'distinct pre-built packets the generator cycles through',
      positiveInt('--pool'),
      OVERLOAD_DEFAULTS.poolSize,
    )
    .addOption(pipelineOption())
    .action(
      benchAction(
        'overload',
        (o) => runOverloadBench({ ...o, maxRate: o.maxRate ?? null, poolSize: o.pool, log: logToStderr }),
        saveOverloadResults,
      ),
    );

  bench
    .command('gate')
    .description(
      "CI performance gate (< 3 min): sphinx unwrap ÷ X and relay ÷ X (X = the addon's X25519 rate on one core) against bench/baseline.json; exit 1 when one is more than the baseline's tolerance below",
    )
    .option('--json', 'print the result as one JSON object on the last line')
    .option('--baseline <file>', 'the committed baseline', defaultBaselineFile())
    .option('--update-baseline', 'write the measured ratios as the new baseline instead of checking')
    .option(
      '--tolerance <f>',
      "allowed fraction below the baseline (default: the baseline file's, else 0.15)",
      positiveNumber('--tolerance'),
    )
    .option('--workers <n>', 'crypto workers of the relay node', positiveInt('--workers'), GATE_DEFAULTS.workers)
    .option(
      '--x25519-seconds <s>',
      'seconds for the addon X25519 baseline',
      positiveNumber('--x25519-seconds'),
      GATE_DEFAULTS.x25519Seconds,
    )
    .option(
      '--openssl-seconds <s>',
      'seconds for openssl speed ecdhx25519 (reported beside X; 0 skips it)',
      nonNegativeNumber('--openssl-seconds'),
      GATE_DEFAULTS.opensslSeconds,
    )
    .option(
      '--sphinx-seconds <s>',
      'seconds for the unwrap measurement',
      positiveNumber('--sphinx-seconds'),
      GATE_DEFAULTS.sphinxSeconds,
    )
    .option(
      '--step-seconds <s>',
      'seconds per relay search step',
      positiveNumber('--step-seconds'),
      GATE_DEFAULTS.stepSeconds,
    )
    .option('--max-steps <n>', 'most relay search steps', positiveInt('--max-steps'), GATE_DEFAULTS.maxSteps)
    .option('--max-loss <f>', 'loss a passing relay step may have', positiveNumber('--max-loss'), GATE_DEFAULTS.maxLoss)
    .option('--start-rate <n>', 'first relay search rate (default: 20 % of X)', positiveNumber('--start-rate'))
    .option('--searches <n>', 'relay searches whose median counts', positiveInt('--searches'), GATE_DEFAULTS.searches)
    .addOption(pipelineOption())
    .action((o) =>
      guarded('gate', async () => {
        const r = await runGate({
          ...o,
          startRate: o.startRate ?? null,
          tolerance: o.tolerance ?? null,
          baselineFile: o.baseline,
          updateBaseline: o.updateBaseline === true,
          log: logToStderr,
        });
        process.stdout.write(`${r.summary}\n`);
        if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        if (!r.pass) process.exitCode = 1;
      }),
    );

  testbedOptions(
    withResults(
      bench
        .command('fig8')
        .description(
          "Loopix Fig. 8 on the testbed: packets one mix processes per second vs each client's sending rate (all / payload)",
        ),
    )
      .option('--clients <n>', 'clients', positiveInt('--clients'), FIG8_DEFAULTS.clients)
      .option(
        '--steps <list>',
        "steps k of the paper's rate schedule (λL = λD = λM = 1+2k, λP = 3+2k per minute)",
        intList('--steps'),
        [...FIG8_DEFAULTS.steps],
      ),
    FIG8_DEFAULTS,
    'seconds measured per step',
  ).action(benchAction('fig8', (o) => runFig8({ clients: o.clients, steps: o.steps, ...testbedParams(o) }), saveFig8));

  testbedOptions(
    withResults(
      bench
        .command('fig9')
        .description(
          'Loopix Fig. 9 on the testbed: latency overhead vs number of clients at 10/min, zero mixing delay',
        ),
    ).option('--clients <list>', 'client counts', intList('--clients'), [...FIG9_DEFAULTS.clients]),
    FIG9_DEFAULTS,
    'seconds measured per point',
  ).action(benchAction('fig9', (o) => runFig9({ clients: o.clients, ...testbedParams(o) }), saveFig9));

  testbedOptions(
    withResults(
      bench
        .command('fig10')
        .description(
          'Loopix Fig. 10 on the testbed: loop latency histogram with Exp(µ = 2/s) per-hop delays and a fitted Gamma',
        ),
    ).option('--clients <n>', 'clients', positiveInt('--clients'), FIG10_DEFAULTS.clients),
    FIG10_DEFAULTS,
    'seconds measured',
  ).action(benchAction('fig10', (o) => runFig10({ clients: o.clients, ...testbedParams(o) }), saveFig10));

  bench
    .command('cost')
    .description(
      'cost per client per month at λ = 30/min and 6 hops, from the measured relay throughput (prices are stated assumptions)',
    )
    .option('--json', 'print the result as one JSON object on the last line')
    .option(
      '--results-dir <dir>',
      'read relay.json from and write cost.json / cost.svg to this directory',
      defaultResultsDir(),
    )
    .option('--no-save', 'do not write result files')
    .option(
      '--max-rate <n>',
      'relay capacity in packets/s (default: max_pkt_per_s of <results-dir>/relay.json)',
      positiveNumber('--max-rate'),
    )
    .option('--cores <n>', 'cores of the host that rate was measured on (with --max-rate)', positiveInt('--cores'), 2)
    .option(
      '--utilization <f>',
      'fraction of the capacity servers are provisioned to use',
      positiveNumber('--utilization'),
      COST_DEFAULTS.utilization,
    )
    .option(
      '--pull-packets-per-s <f>',
      "packets per second a client's provider sends it (pulls)",
      nonNegativeNumber('--pull-packets-per-s'),
      COST_DEFAULTS.pullPacketsPerS,
    )
    .action(
      benchAction(
        'cost',
        (o) => {
          let maxPktPerS = o.maxRate as number | undefined;
          let cores = o.cores as number;
          let source = '--max-rate';
          if (maxPktPerS === undefined) {
            const file = defaultRelayFile(o.resultsDir);
            const relay = readRelayResult(file);
            if (!relay)
              throw new Error(`no relay result at ${file}: run \`loopix bench relay\` first or pass --max-rate`);
            ({ maxPktPerS, cores } = relay);
            source = file;
          }
          const r = computeCost({
            ...COST_DEFAULTS,
            maxPktPerS,
            cores,
            source,
            utilization: o.utilization,
            pullPacketsPerS: o.pullPacketsPerS,
            scenarios: DEFAULT_SCENARIOS,
          });
          for (const s of r.scenarios)
            logToStderr(
              `${s.scenario.padEnd(20)} ${String(s.clients_per_instance).padStart(7)} clients/instance  ${s.total_cents_per_client_month.toFixed(3).padStart(8)} ¢/client/month (compute ${(s.compute_usd_per_client_month * 100).toFixed(3)} ¢, traffic ${(s.bandwidth_usd_per_client_month * 100).toFixed(3)} ¢)`,
            );
          return r;
        },
        saveCost,
      ),
    );
}
