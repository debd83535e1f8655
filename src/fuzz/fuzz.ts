/**
 * `loopix fuzz` / `npm run fuzz`: random and mutated inputs against everything that parses untrusted bytes
 * or files, one module per target family:
 *
 *  - src/fuzz/packets.ts  — native and TS unwrap / unwrapBatch / openSurbReply (differential), the SURB parser,
 *                           makeGeometry, the batch record decoder;
 *  - src/fuzz/session.ts  — the provider's WebSocket message handler (ClientSession, the per-connection state
 *                           machine) with frames from valid handshakes to garbage;
 *  - src/fuzz/config.ts   — parseConfig on mutated node and client configs and damaged JSON text;
 *  - src/fuzz/topology.ts — verifyTopology / signTopology on mutated signed documents;
 *  - src/fuzz/directory.ts — an authority's checks of mutated signed descriptors and loop reports;
 *  - src/fuzz/link.ts     — the node ↔ node link framing: native and TS AES-128-GCM receivers (differential),
 *                           forgeries, replays, truncations.
 *
 * A run first replays the corpus (test/fuzz-corpus, src/fuzz/corpus.ts), then generates `iterations` inputs
 * split over the targets by their shares. What counts as a crash is stated in each module.
 */
import type { SphinxBackend } from '../sphinx/types.js';
import { configTarget, type ConfigInput } from './config.js';
import { defaultCorpusDir, loadCorpus } from './corpus.js';
import { FuzzRunner, type FuzzCrash, type FuzzTarget, type Interesting } from './harness.js';
import { linkTarget } from './link.js';
import { packetTargets } from './packets.js';
import { makeRng } from './rng.js';
import { sessionTarget } from './session.js';
import { topologyTarget } from './topology.js';
import { directoryTarget } from './directory.js';

export type { FuzzCrash } from './harness.js';

export interface FuzzOptions {
  readonly iterations: number;
  readonly seed: number;
  readonly native: SphinxBackend;
  readonly ts: SphinxBackend;
  readonly log?: (line: string) => void;
  /** Corpus to replay first: a directory, or null for none (default: test/fuzz-corpus when present). */
  readonly corpusDir?: string | null;
  /** Only these targets (default: all). */
  readonly targets?: readonly string[];
  /** Keep the first input of each new outcome (for `--save-corpus`). */
  readonly collectInteresting?: boolean;
}

export interface FuzzReport {
  readonly inputs: number;
  /** Of `inputs`, replayed from the corpus. */
  readonly corpusInputs: number;
  /** Every crash (the first 100 are kept in `crashes` with their inputs). */
  readonly crashCount: number;
  readonly crashes: FuzzCrash[];
  readonly byTarget: Record<string, number>;
  /** Distinct outcome signatures seen per target (a rough measure of how much behaviour was reached). */
  readonly outcomes: Record<string, number>;
  readonly interesting: Interesting[];
  readonly seconds: number;
  /** Seconds spent generating and checking per target (corpus replay not included). */
  readonly secondsByTarget: Record<string, number>;
}

/** All targets, in run order; shares sum to 1. */
export function fuzzTargets(
  native: SphinxBackend,
  ts: SphinxBackend,
  seed: number,
  corpusConfigs: readonly ConfigInput[] = [],
): FuzzTarget[] {
  return [
    ...packetTargets(native, ts, makeRng(seed ^ 0x5eed)),
    sessionTarget(native),
    configTarget(corpusConfigs),
    topologyTarget(),
    linkTarget(native, makeRng(seed ^ 0x11a4)),
    directoryTarget(),
  ] as FuzzTarget[];
}

export function runFuzz(opts: FuzzOptions): FuzzReport {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const runner = new FuzzRunner(opts.collectInteresting ?? false, (n, c) =>
    log(`fuzz: ${n} inputs, ${c} crashes so far`),
  );
  const corpusDir = opts.corpusDir === undefined ? defaultCorpusDir() : opts.corpusDir;
  const corpus = corpusDir ? loadCorpus(corpusDir) : [];
  const configSeeds = corpus.filter((e) => e.target === 'config-parser').map((e) => e.input as ConfigInput);
  let targets = fuzzTargets(opts.native, opts.ts, opts.seed, configSeeds);
  if (opts.targets) {
    const unknown = opts.targets.filter((t) => !targets.some((x) => x.name === t));
    if (unknown.length)
      throw new RangeError(
        `unknown fuzz target(s) ${unknown.join(', ')}; known: ${targets.map((t) => t.name).join(', ')}`,
      );
    targets = targets.filter((t) => opts.targets!.includes(t.name));
  }
  runner.replay(targets, corpus);
  const corpusInputs = runner.inputs;
  if (corpus.length)
    log(`fuzz: replayed ${corpusInputs} corpus inputs from ${corpusDir}, ${runner.crashCount} crashes`);
  const rng = makeRng(opts.seed);
  const total = targets.reduce((s, t) => s + t.share, 0);
  for (const t of targets) runner.generate(t, rng, Math.max(1, Math.round((opts.iterations * t.share) / total)));
  return {
    inputs: runner.inputs,
    corpusInputs,
    crashCount: runner.crashCount,
    crashes: runner.crashes,
    byTarget: runner.byTarget,
    outcomes: Object.fromEntries(Object.entries(runner.outcomes).map(([k, v]) => [k, Object.keys(v).length])),
    interesting: runner.interesting,
    seconds: (performance.now() - started) / 1000,
    secondsByTarget: runner.seconds,
  };
}
