/**
 * The fuzzer's target contract and runner. A target turns random bytes into one input (`generate`), runs it
 * against the code under test and checks the oracle (`check`): it returns a short outcome signature ("what
 * happened", e.g. `invalid:mac` or `error:params.mu`) and throws only when the code misbehaved
 * (a crash: an exception the code does not document, a result of the wrong shape, an oracle violation).
 * Inputs round-trip through JSON (`toJson` / `fromJson`) so that crashes and the corpus can be stored as
 * small files (test/fuzz-corpus/<target>/*.json) and replayed.
 *
 * "Interesting" inputs, for the corpus: the first input of each distinct outcome signature a target sees.
 */
import type { Rng } from './rng.js';

export interface FuzzTarget<I = unknown> {
  readonly name: string;
  /** Share of the generated iterations (all targets' shares sum to 1). */
  readonly share: number;
  generate(rng: Rng): I;
  /** Runs one input; returns its outcome signature; throws on a crash. */
  check(input: I): string;
  toJson(input: I): unknown;
  fromJson(json: unknown): I;
}

export interface FuzzCrash {
  readonly target: string;
  readonly message: string;
  /** The input as JSON text (truncated to 16 KiB). */
  readonly input: string;
}

export interface CorpusEntry {
  readonly target: string;
  readonly file: string;
  readonly input: unknown;
  /** When set, the outcome the input must have (a pinned behaviour, e.g. a past finding's fix). */
  readonly expect?: string;
}

export interface Interesting {
  readonly target: string;
  readonly outcome: string;
  readonly input: unknown;
}

/** Crashes kept with their inputs (one bug tends to crash many inputs; all are still counted as inputs). */
const MAX_CRASHES = 100;
/** Interesting inputs kept per target. */
const MAX_INTERESTING_PER_TARGET = 200;

export class FuzzRunner {
  readonly crashes: FuzzCrash[] = [];
  readonly byTarget: Record<string, number> = {};
  /** target → outcome signature → inputs. */
  readonly outcomes: Record<string, Record<string, number>> = {};
  readonly interesting: Interesting[] = [];
  /** target → seconds spent in it. */
  readonly seconds: Record<string, number> = {};
  inputs = 0;
  /** All crashes, including those beyond the MAX_CRASHES kept. */
  crashCount = 0;

  constructor(
    private readonly keepInteresting: boolean,
    private readonly progress: (inputs: number, crashes: number) => void = () => {},
  ) {}

  /**
   * Runs one input: `produce` makes it (generation or decoding a stored one may itself crash), then the
   * target checks it. Crashes and first-of-their-kind outcomes are recorded with the input as JSON.
   */
  private one<I>(target: FuzzTarget<I>, produce: () => I, keep: boolean, expect?: string): void {
    this.inputs++;
    this.byTarget[target.name] = (this.byTarget[target.name] ?? 0) + 1;
    let input: I | undefined;
    let outcome: string;
    try {
      input = produce();
      outcome = target.check(input);
      if (expect !== undefined && outcome !== expect) throw new Error(`outcome ${outcome}, expected ${expect}`);
    } catch (err) {
      outcome = 'crash';
      this.crashCount++;
      if (this.crashes.length < MAX_CRASHES) {
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        this.crashes.push({
          target: target.name,
          message: message.slice(0, 2000),
          input: this.json(target, input).slice(0, 16384),
        });
      }
    }
    const o = (this.outcomes[target.name] ??= {});
    const n = (o[outcome] = (o[outcome] ?? 0) + 1);
    if (keep && this.keepInteresting && n === 1 && input !== undefined && outcome !== 'crash') {
      if (this.interesting.filter((i) => i.target === target.name).length < MAX_INTERESTING_PER_TARGET) {
        this.interesting.push({ target: target.name, outcome, input: target.toJson(input) });
      }
    }
    if (this.inputs % 100_000 === 0) this.progress(this.inputs, this.crashCount);
  }

  private json<I>(target: FuzzTarget<I>, input: I | undefined): string {
    if (input === undefined) return 'null';
    try {
      return JSON.stringify(target.toJson(input));
    } catch (e) {
      return `(input not serialisable: ${String(e)})`;
    }
  }

  /** Replays stored inputs (the corpus), each through its target's oracle. */
  replay(targets: readonly FuzzTarget[], entries: readonly CorpusEntry[]): void {
    const byName = new Map(targets.map((t) => [t.name, t]));
    for (const e of entries) {
      const t = byName.get(e.target);
      if (t) this.one(t, () => t.fromJson(e.input), false, e.expect);
    }
  }

  /** `n` generated inputs for `target`. */
  generate<I>(target: FuzzTarget<I>, rng: Rng, n: number): void {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) this.one(target, () => target.generate(rng), true);
    this.seconds[target.name] = (this.seconds[target.name] ?? 0) + (performance.now() - t0) / 1000;
  }
}
