/**
 * `loopix sim …`: the anonymity simulators (docs/anonymity.md). Each subcommand runs a sweep on all cores,
 * writes a JSON report and SVG plots to --out, prints a table, and with --json ends with one JSON object whose
 * `points` array holds one entry per plotted point. --quick runs a reduced sweep (for CI); --seed replays a run.
 */
import { Command, Option } from 'commander';
import { numberListOption, numberOption, positiveInt, positiveNumber } from './options.js';
import { entropyPlot, entropySweep, PAPER_ENTROPY_RUNS, PAPER_LAMBDAS, PAPER_MUS } from '../sim/entropy-sweep.js';
import { PAPER_EPSILON, PAPER_SWEEPS, type EpsilonParams, type EpsilonVary } from '../sim/epsilon.js';
import { epsilonPlot, epsilonSweep, PAPER_EPSILON_REPS } from '../sim/epsilon-sweep.js';
import { anonymityPlot, completedPlot, intersectionSweep } from '../sim/intersection-sweep.js';
import { DEFAULT_LAMBDA_M, DEFAULT_S } from '../sim/n-minus-1.js';
import { nMinus1Plot, nMinus1Sweep } from '../sim/n-minus-1-sweep.js';
import { randomSeed } from '../util/random.js';
import { commandLine, writeReport, type NamedPlot, type SimReportBase } from '../sim/report.js';
import { defaultSimWorkers } from '../sim/sweep.js';
import { NetworkParamsSchema, parseConfig } from '../config/schema.js';
import { readJsonFile } from '../util/json-file.js';

interface CommonOptions {
  json?: boolean;
  quick?: boolean;
  seed?: number;
  workers?: number;
  out: string;
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'end with the report as one JSON object on the last line')
    .option('--quick', 'a reduced sweep (seconds; what CI runs)')
    .option(
      '--seed <n>',
      'PRNG seed, to replay a run (default: a fresh random seed, printed in the report)',
      numberOption('--seed', (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'an integer in [0, 2^32)'),
    )
    .option('--workers <n>', `worker threads (default: ${defaultSimWorkers()}, one per core)`, positiveInt('--workers'))
    .option('--out <dir>', 'directory for the JSON report and SVG plots', 'sim-results');
}

function common(o: CommonOptions): { seed: number; workers: number; started: number; date: string } {
  return {
    seed: o.seed ?? randomSeed(),
    workers: o.workers ?? defaultSimWorkers(),
    started: Date.now(),
    date: new Date().toISOString(),
  };
}

/** The fields every report starts with; `seconds` counts from `common()` to this call (the sweep's run time). */
function reportHeader(sim: string, o: CommonOptions, c: ReturnType<typeof common>) {
  return {
    sim,
    command: commandLine(),
    date: c.date,
    seed: c.seed,
    workers: c.workers,
    quick: Boolean(o.quick),
    seconds: seconds(c.started),
  };
}

/** Prints the table, writes the files, and with --json prints the report as the last line. */
async function finish(
  o: CommonOptions,
  base: string,
  report: SimReportBase & Record<string, unknown>,
  plots: NamedPlot[],
  table: string[],
): Promise<void> {
  const full = await writeReport(o.out, base, report, plots);
  process.stdout.write(`${table.join('\n')}\n`);
  process.stderr.write(
    `${report.sim}: ${report.points.length} points in ${report.seconds.toFixed(1)} s (seed ${report.seed}); wrote ${full.files.join(', ')}\n`,
  );
  if (o.json) process.stdout.write(`${JSON.stringify(full)}\n`);
}

const seconds = (started: number) => Math.round((Date.now() - started) / 100) / 10;
const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

export function registerSimCommands(program: Command): void {
  const sim = program
    .command('sim')
    .description(
      'anonymity simulators after Loopix §4 and AnonPoP App. A (JSON + SVG; --json ends with one JSON line)',
    );

  addCommonOptions(
    sim
      .command('entropy')
      .description('one Poisson mix: entropy of outgoing messages by equation (5), over λ and µ (Loopix Fig. 4)')
      .option(
        '--lambda <list>',
        `incoming rates λ per time unit (default: ${PAPER_LAMBDAS.join(',')}; --quick: 100,300,500)`,
        numberListOption('--lambda', (n) => Number.isFinite(n) && n > 0, 'positive numbers'),
      )
      .option(
        '--mu <list>',
        `delay parameters µ per time unit (default: ${PAPER_MUS.join(',')}; --quick: 20,2,0.2)`,
        numberListOption('--mu', (n) => Number.isFinite(n) && n > 0, 'positive numbers'),
      )
      .option(
        '--runs <n>',
        `runs averaged per point (default: ${PAPER_ENTROPY_RUNS}; --quick: 5)`,
        positiveInt('--runs'),
      ),
  ).action(async (o: CommonOptions & { lambda?: number[]; mu?: number[]; runs?: number }) => {
    const c = common(o);
    const lambdas = o.lambda ?? (o.quick ? [100, 300, 500] : PAPER_LAMBDAS);
    const mus = o.mu ?? (o.quick ? [20, 2, 0.2] : PAPER_MUS);
    const runs = o.runs ?? (o.quick ? 5 : PAPER_ENTROPY_RUNS);
    const points = await entropySweep({ lambdas, mus, runs, seed: c.seed, workers: c.workers });
    const table = [
      '    λ        µ   entropy (bits)    sd   log2(eλ/µ)',
      ...points.map(
        (p) =>
          `${String(p.lambda).padStart(5)} ${String(p.mu).padStart(8)}   ${fmt(p.entropy_mean).padStart(14)} ${fmt(p.entropy_sd).padStart(6)} ${fmt(p.entropy_limit).padStart(11)}`,
      ),
    ];
    await finish(
      o,
      'sim-entropy',
      {
        ...reportHeader('entropy', o, c),
        params: { lambdas, mus, runs },
        points: points as unknown as Record<string, unknown>[],
      },
      [{ name: 'sim-entropy', spec: entropyPlot(points) }],
      table,
    );
  });

  addCommonOptions(
    sim
      .command('epsilon')
      .description('likelihood difference ε of equation (3) over µ, layers or corruption (Loopix Figs. 5–7)')
      .addOption(
        new Option('--vary <what>', 'the parameter to sweep (Fig. 5: mu, Fig. 6: layers, Fig. 7: corrupt)')
          .choices(['mu', 'layers', 'corrupt'])
          .default('mu'),
      )
      .option(
        '--values <list>',
        "values of the varied parameter (default: the paper's; µ 0.2…2.0, layers 2…19, corrupt 0…100 %)",
        numberListOption('--values', (n) => Number.isFinite(n) && n >= 0, 'non-negative numbers'),
      )
      .option(
        '--reps <n>',
        `repetitions per point (default: ${PAPER_EPSILON_REPS}; --quick: 10)`,
        positiveInt('--reps'),
      )
      .option(
        '--senders <n>',
        'senders U, including the two challenge senders',
        numberOption('--senders', (n) => Number.isInteger(n) && n >= 3, 'an integer ≥ 3'),
        PAPER_EPSILON.senders,
      )
      .option(
        '--lambda <rate>',
        'sending rate λ of every sender, per time unit',
        positiveNumber('--lambda'),
        PAPER_EPSILON.lambda,
      )
      .option(
        '--mu <rate>',
        'delay parameter µ when not varied, per time unit',
        positiveNumber('--mu'),
        PAPER_EPSILON.mu,
      )
      .option('--layers <n>', 'layers when not varied', positiveInt('--layers'), PAPER_EPSILON.layers)
      .option('--width <n>', 'mixes per layer', positiveInt('--width'), PAPER_EPSILON.width)
      .option(
        '--corrupt <percent>',
        'percent of corrupt mixes when not varied',
        numberOption('--corrupt', (n) => n >= 0 && n <= 100, 'a percentage in [0, 100]'),
        0,
      )
      .option(
        '--burn-in <t>',
        'burn-in, time units',
        numberOption('--burn-in', (n) => Number.isFinite(n) && n >= 0, 'a non-negative number'),
        PAPER_EPSILON.burnIn,
      )
      .option(
        '--duration <t>',
        'time units after the challenge senders start',
        positiveNumber('--duration'),
        PAPER_EPSILON.duration,
      ),
  ).action(
    async (
      o: CommonOptions & {
        vary: EpsilonVary;
        values?: number[];
        reps?: number;
        senders: number;
        lambda: number;
        mu: number;
        layers: number;
        width: number;
        corrupt: number;
        burnIn: number;
        duration: number;
      },
      cmd: Command,
    ) => {
      const quickValues: Record<EpsilonVary, number[]> = { mu: [0.5, 2], layers: [2, 4, 8], corrupt: [0, 50, 100] };
      const values = o.values ?? (o.quick ? quickValues[o.vary] : PAPER_SWEEPS[o.vary]);
      if (o.vary === 'layers' && values.some((v) => !Number.isInteger(v) || v < 1))
        cmd.error(`error: --values must be positive integers with --vary layers, got ${values.join(',')}`);
      if (o.vary === 'corrupt' && values.some((v) => v > 100))
        cmd.error(`error: --values must be percentages in [0, 100] with --vary corrupt, got ${values.join(',')}`);
      if (o.vary === 'mu' && values.some((v) => v <= 0))
        cmd.error(`error: --values must be positive with --vary mu, got ${values.join(',')}`);
      const c = common(o);
      const reps = o.reps ?? (o.quick ? 10 : PAPER_EPSILON_REPS);
      const base: EpsilonParams = {
        senders: o.senders,
        lambda: o.lambda,
        mu: o.mu,
        layers: o.layers,
        width: o.width,
        corrupt: o.corrupt / 100,
        burnIn: o.burnIn,
        duration: o.duration,
      };
      const points = await epsilonSweep({ vary: o.vary, values, reps, base, seed: c.seed, workers: c.workers });
      const table = [
        `${o.vary.padStart(8)}   ε mean     sd   non-finite`,
        ...points.map(
          (p) =>
            `${String(p.value).padStart(8)} ${fmt(p.epsilon_mean).padStart(8)} ${fmt(p.epsilon_sd).padStart(6)} ${String(p.non_finite).padStart(10)}`,
        ),
      ];
      await finish(
        o,
        `sim-epsilon-${o.vary}`,
        {
          ...reportHeader('epsilon', o, c),
          params: { vary: o.vary, values, reps, ...base },
          points: points as unknown as Record<string, unknown>[],
        },
        [{ name: `sim-epsilon-${o.vary}`, spec: epsilonPlot(points, o.vary) }],
        table,
      );
    },
  );

  addCommonOptions(
    sim
      .command('n-1')
      .description('stealthy (n−1) attack of Loopix §4.2.1: Pr(x = target), simulated and by formula, over s and λM')
      .option(
        '--s <list>',
        `stealth factors s > 1 (default: ${DEFAULT_S.join(',')}; --quick: 2,10,100)`,
        numberListOption('--s', (n) => Number.isFinite(n) && n > 1, 'numbers > 1'),
      )
      .option(
        '--lambda-m <list>',
        `mix loop rates λM per time unit (default: ${DEFAULT_LAMBDA_M.join(',')}; --quick: 1,10)`,
        numberListOption('--lambda-m', (n) => Number.isFinite(n) && n > 0, 'positive numbers'),
      )
      .option(
        '--lambda-r <rate>',
        "incoming traffic that is not the mix's loops, per time unit",
        positiveNumber('--lambda-r'),
        100,
      )
      .option('--mu <rate>', 'delay parameter µ per time unit', positiveNumber('--mu'), 2)
      .option('--reps <n>', 'independent runs per point (default: 20; --quick: 5)', positiveInt('--reps'))
      .option('--probes <n>', 'target messages per run (default: 2000; --quick: 500)', positiveInt('--probes')),
  ).action(
    async (
      o: CommonOptions & {
        s?: number[];
        lambdaM?: number[];
        lambdaR: number;
        mu: number;
        reps?: number;
        probes?: number;
      },
    ) => {
      const c = common(o);
      const s = o.s ?? (o.quick ? [2, 10, 100] : DEFAULT_S);
      const lambdaM = o.lambdaM ?? (o.quick ? [1, 10] : DEFAULT_LAMBDA_M);
      const reps = o.reps ?? (o.quick ? 5 : 20);
      const probes = o.probes ?? (o.quick ? 500 : 2000);
      const points = await nMinus1Sweep({
        s,
        lambdaM,
        lambdaR: o.lambdaR,
        mu: o.mu,
        reps,
        probes,
        seed: c.seed,
        workers: c.workers,
      });
      const table = [
        '       s     λM   p simulated     ± se   p formula   pool m',
        ...points.map(
          (p) =>
            `${String(p.s).padStart(8)} ${String(p.lambda_m).padStart(6)} ${fmt(p.p_sim, 4).padStart(13)} ${fmt(p.p_sim_se, 4).padStart(8)} ${fmt(p.p_formula, 4).padStart(11)} ${fmt(p.pool_mean, 2).padStart(8)}`,
        ),
      ];
      await finish(
        o,
        'sim-n-1',
        {
          ...reportHeader('n-1', o, c),
          params: { s, lambdaM, lambdaR: o.lambdaR, mu: o.mu, reps, probes },
          points: points as unknown as Record<string, unknown>[],
        },
        [{ name: 'sim-n-1', spec: nMinus1Plot(points, { lambdaR: o.lambdaR, mu: o.mu }) }],
        table,
      );
    },
  );

  addCommonOptions(
    sim
      .command('intersection')
      .description('AnonPoP App. A intersection attack, fixed vs per-epoch mailboxes (AnonPoP Figs. 8–10)')
      .option(
        '--clients <list>',
        'numbers of clients (default: 500,5000; --quick: 200)',
        numberListOption('--clients', (n) => Number.isInteger(n) && n >= 2, 'integers ≥ 2'),
      )
      .option(
        '--epochs <list>',
        'PEM epoch lengths in slots (default: 180,360,720; --quick: 180)',
        numberListOption('--epochs', (n) => Number.isInteger(n) && n > 0, 'positive integers'),
      )
      .option(
        '--slots <n>',
        'slots (60 s) simulated with fixed mailboxes (default: 12000; --quick: 3000)',
        positiveInt('--slots'),
      )
      .option(
        '--pem-slots <n>',
        'slots simulated with per-epoch mailboxes (default: 100000; --quick: 3000)',
        positiveInt('--pem-slots'),
      )
      .option(
        '--attacks <n>',
        'attacked mailboxes per line at least (one per client and run; default: 5000; --quick: 400)',
        positiveInt('--attacks'),
      )
      .option(
        '--implementation [config]',
        'the PEM epoch of this implementation: mailboxEpochS (of the config file\'s params, else the defaults) in 60-s slots, instead of --epochs (docs/anonymity.md "Post office mailboxes")',
      ),
  ).action(
    async (
      o: CommonOptions & {
        clients?: number[];
        epochs?: number[];
        slots?: number;
        pemSlots?: number;
        attacks?: number;
        implementation?: string | true;
      },
    ) => {
      const c = common(o);
      const clients = o.clients ?? (o.quick ? [200] : [500, 5000]);
      // --implementation: the mailbox epoch this implementation's clients really use (params.mailboxEpochS).
      const implParams =
        o.implementation === undefined
          ? undefined
          : o.implementation === true
            ? NetworkParamsSchema.parse({})
            : parseConfig(
                NetworkParamsSchema,
                (readJsonFile(o.implementation, { label: 'config', area: 'CONFIG' }) as { params?: unknown }).params ??
                  {},
                `${o.implementation} params`,
              );
      const epochs = implParams
        ? [Math.max(1, Math.round(implParams.mailboxEpochS / 60))]
        : (o.epochs ?? (o.quick ? [180] : [180, 360, 720]));
      const slots = o.slots ?? (o.quick ? 3000 : 12_000);
      const pemSlots = o.pemSlots ?? (o.quick ? 3000 : 100_000);
      const attacks = o.attacks ?? (o.quick ? 400 : 5000);
      const { points, anonymity } = await intersectionSweep({
        clients,
        epochs,
        slots,
        pemSlots,
        attacks,
        seed: c.seed,
        workers: c.workers,
      });
      const half = (n: number, e: number | null) =>
        points.find((p) => p.clients === n && p.epoch_slots === e && p.completed_fraction >= 0.5);
      const table = [
        'clients  mailboxes        half completed at   final completed',
        ...clients.flatMap((n) =>
          [null, ...epochs].map((e) => {
            const h = half(n, e);
            const last = points.filter((p) => p.clients === n && p.epoch_slots === e).at(-1);
            return `${String(n).padStart(7)}  ${(e === null ? 'fixed' : `PEM ${e}`).padEnd(15)}  ${(h ? `${h.slot} slots (${h.hours} h)` : 'never').padStart(18)}   ${fmt(last?.completed_fraction ?? NaN).padStart(8)} by slot ${last?.slot}`;
          }),
        ),
        'clients  mailboxes        after slot   anonymity set (fraction of clients): p10 / median / p90',
        ...anonymity.map(
          (d) =>
            `${String(d.clients).padStart(7)}  ${(d.epoch_slots === null ? 'fixed' : `PEM ${d.epoch_slots}`).padEnd(15)}  ${String(d.slot).padStart(10)}   ${fmt(d.p10)} / ${fmt(d.median)} / ${fmt(d.p90)}`,
        ),
      ];
      await finish(
        o,
        'sim-intersection',
        {
          ...reportHeader('intersection', o, c),
          params: {
            clients,
            epochs,
            slots,
            pemSlots,
            attacks,
            slotSeconds: 60,
            slotsPerRound: 5,
            pOff: 1 / 300,
            pOn: 1 / 60,
            conversationsPerHour: 3,
            meanConversationLength: 2,
            ...(implParams
              ? {
                  implementation: {
                    mailboxEpochS: implParams.mailboxEpochS,
                    poRoundMs: implParams.poRoundMs,
                    poPoolSize: implParams.poPoolSize,
                  },
                }
              : {}),
          },
          anonymity,
          points: points as unknown as Record<string, unknown>[],
        },
        [
          { name: 'sim-intersection-completed', spec: completedPlot(points) },
          {
            name: 'sim-intersection-anonymity-fixed',
            spec: anonymityPlot(
              anonymity.filter((d) => d.epoch_slots === null),
              'Anonymity set with fixed mailboxes (AnonPoP Fig. 9), CDF',
              {
                color: (d) => `after ${d.slot} slots`,
                dash: (d) => `${d.clients} clients`,
              },
            ),
          },
          {
            name: 'sim-intersection-anonymity-pem',
            spec: anonymityPlot(
              anonymity.filter((d) => d.epoch_slots !== null),
              'Smallest anonymity set with per-epoch mailboxes (AnonPoP Fig. 10), CDF',
              {
                color: (d) => `epoch ${d.epoch_slots} slots`,
                dash: (d) => `${d.clients} clients, after ${d.slot} slots`,
              },
            ),
          },
        ],
        table,
      );
    },
  );
}
