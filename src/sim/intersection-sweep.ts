/**
 * The AnonPoP Appendix A sweep of `sim intersection`: for each number of clients, the attack on fixed
 * mailboxes (Figure 8's completion curve, Figure 9's anonymity sets after 250–1,500 slots) and on per-epoch
 * mailboxes for each epoch length (Figure 10's anonymity sets after 10,000 and 100,000 slots).
 */
import type { TopLevelSpec } from '../plot/svg.js';
import { ANON_BINS, type IntersectionParams, type IntersectionRun } from './intersection.js';
import { round } from './stats.js';
import { runTasks, valuesByPoint } from './sweep.js';
import type { SimTask } from './tasks.js';

export const FIG9_SNAPSHOTS = [250, 500, 1000, 1500];
export const FIG10_SNAPSHOTS = [10_000, 100_000];
export const SLOT_SECONDS = 60;

export interface IntersectionSweepOptions {
  readonly clients: readonly number[];
  /** PEM epoch lengths in slots. */
  readonly epochs: readonly number[];
  /** Slots simulated with fixed mailboxes. */
  readonly slots: number;
  /** Slots simulated with PEM. */
  readonly pemSlots: number;
  /** Attacks (one per client and run) per line, at least; decides the number of runs. */
  readonly attacks: number;
  readonly seed: number;
  readonly workers: number;
}

export interface IntersectionPoint {
  readonly clients: number;
  /** Epoch length in slots, null for fixed mailboxes. */
  readonly epoch_slots: number | null;
  readonly slot: number;
  readonly hours: number;
  /** Fraction of attacked mailboxes (clients) whose attack completed by this slot. */
  readonly completed_fraction: number;
}

export interface AnonymityDistribution {
  readonly clients: number;
  readonly epoch_slots: number | null;
  readonly slot: number;
  readonly attacks: number;
  /** Quantiles of the anonymity set as a fraction of the clients (bin resolution 1/ANON_BINS). */
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
  /** [x, F(x)]: the fraction of clients whose anonymity set is at most x·clients, x = 0.01 … 1. */
  readonly cdf: Array<[number, number]>;
}

interface Config {
  readonly params: IntersectionParams;
  readonly runs: number;
}

/** Record every hour over the fixed-mailbox horizon; coarser for long PEM runs (≈ 200 points a line). */
function recordEvery(slots: number): number {
  return Math.max(60, Math.round(slots / 200 / 60) * 60);
}

function snapshotsWithin(wanted: readonly number[], slots: number): number[] {
  const within = wanted.filter((s) => s <= slots);
  return within.length > 0 ? within : [slots];
}

export function intersectionConfigs(o: IntersectionSweepOptions): Config[] {
  return o.clients.flatMap((clients) => {
    const runs = Math.max(1, Math.ceil(o.attacks / clients));
    const fixed: Config = {
      params: {
        clients,
        epochSlots: null,
        slots: o.slots,
        recordEvery: recordEvery(o.slots),
        snapshots: snapshotsWithin(FIG9_SNAPSHOTS, o.slots),
      },
      runs,
    };
    const pem = o.epochs.map((epochSlots) => ({
      params: {
        clients,
        epochSlots,
        slots: o.pemSlots,
        recordEvery: recordEvery(o.pemSlots),
        snapshots: snapshotsWithin(FIG10_SNAPSHOTS, o.pemSlots),
      },
      runs,
    }));
    return [fixed, ...pem];
  });
}

function quantile(hist: readonly number[], total: number, q: number): number {
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= q * total) return (i + 1) / hist.length;
  }
  return 1;
}

export async function intersectionSweep(
  o: IntersectionSweepOptions,
): Promise<{ points: IntersectionPoint[]; anonymity: AnonymityDistribution[] }> {
  const configs = intersectionConfigs(o);
  // One task per run; the expensive (large, long) configurations first so the threads finish together.
  const tasks: SimTask[] = configs
    .flatMap((c, point) =>
      Array.from({ length: c.runs }, (_, rep) => ({
        kind: 'intersection' as const,
        point,
        reps: [rep],
        seed: o.seed,
        params: c.params,
      })),
    )
    .sort((a, b) => b.params.clients * b.params.slots - a.params.clients * a.params.slots);
  const results = await runTasks(tasks, { workers: o.workers, label: 'sim intersection' });
  const byConfig = valuesByPoint<IntersectionRun>(tasks, results, configs.length);
  const points: IntersectionPoint[] = [];
  const anonymity: AnonymityDistribution[] = [];
  configs.forEach(({ params }, i) => {
    const runs = byConfig[i]!;
    const attacks = runs.reduce((n, r) => n + r.attacks, 0);
    runs[0]!.completed.forEach((_, k) => {
      const slot = (k + 1) * params.recordEvery;
      const done = runs.reduce((n, r) => n + r.completed[k]!, 0);
      points.push({
        clients: params.clients,
        epoch_slots: params.epochSlots,
        slot,
        hours: round((slot * SLOT_SECONDS) / 3600),
        completed_fraction: round(done / attacks),
      });
    });
    params.snapshots.forEach((slot, k) => {
      const hist = new Array<number>(ANON_BINS).fill(0);
      for (const r of runs) r.histograms[k]!.forEach((c, b) => (hist[b]! += c));
      const cdf: Array<[number, number]> = [];
      let acc = 0;
      for (let b = 0; b < ANON_BINS; b++) {
        acc += hist[b]!;
        if ((b + 1) % (ANON_BINS / 100) === 0) cdf.push([round((b + 1) / ANON_BINS, 3), round(acc / attacks, 4)]);
      }
      anonymity.push({
        clients: params.clients,
        epoch_slots: params.epochSlots,
        slot,
        attacks,
        p10: quantile(hist, attacks, 0.1),
        median: quantile(hist, attacks, 0.5),
        p90: quantile(hist, attacks, 0.9),
        cdf,
      });
    });
  });
  return { points, anonymity };
}

const mailboxes = (epoch: number | null) => (epoch === null ? 'fixed mailboxes' : `PEM, epoch ${epoch} slots`);

/** Figure 8 redrawn: completed attacks over time, one line per number of clients and mailbox scheme. */
export function completedPlot(points: readonly IntersectionPoint[]): TopLevelSpec {
  // PEM runs are much longer (100,000 slots) and stay at 0; draw them over the fixed-mailbox horizon only.
  const fixedEnd = Math.max(0, ...points.filter((p) => p.epoch_slots === null).map((p) => p.slot));
  const data = points
    .filter((p) => fixedEnd === 0 || p.slot <= fixedEnd)
    .map((p) => ({ ...p, series: `${p.clients} clients, ${mailboxes(p.epoch_slots)}` }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'AnonPoP intersection attack: completed attacks over time (AnonPoP Fig. 8)',
    width: 480,
    height: 300,
    background: 'white',
    data: { values: data },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'hours', type: 'quantitative', title: 'time (hours; slots of 60 s)' },
      y: {
        field: 'completed_fraction',
        type: 'quantitative',
        title: 'fraction of attacks completed',
        scale: { domain: [0, 1] },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: '',
        sort: [...new Set(data.map((d) => d.series))],
        legend: { labelLimit: 0 },
      },
    },
  };
}

/**
 * Figures 9 and 10 redrawn as CDFs of the anonymity set (fraction of clients): colour by `color` (snapshot or
 * epoch), dash pattern by `dash` (number of clients, snapshot), so a dozen lines stay readable.
 */
export function anonymityPlot(
  dists: readonly AnonymityDistribution[],
  title: string,
  keys: { color: (d: AnonymityDistribution) => string; dash: (d: AnonymityDistribution) => string },
): TopLevelSpec {
  const data = dists.flatMap((d) =>
    [[0, 0] as [number, number], ...d.cdf].map(([x, f]) => ({ x, f, color: keys.color(d), dash: keys.dash(d) })),
  );
  const order = (field: 'color' | 'dash') => [...new Set(data.map((d) => d[field]))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 480,
    height: 300,
    background: 'white',
    data: { values: data },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 'anonymity set (fraction of clients)', scale: { domain: [0, 1] } },
      y: {
        field: 'f',
        type: 'quantitative',
        title: 'fraction of clients with at most this anonymity set',
        scale: { domain: [0, 1] },
      },
      color: { field: 'color', type: 'nominal', title: '', sort: order('color'), legend: { labelLimit: 0 } },
      strokeDash: { field: 'dash', type: 'nominal', title: '', sort: order('dash'), legend: { labelLimit: 0 } },
      detail: [{ field: 'color' }, { field: 'dash' }],
    },
  };
}
