/**
 * `loopix bench gate` (`npm run bench:gate`, run by .ci/run after the tests): a performance regression gate
 * that finishes in well under 3 minutes.
 *
 * It measures, in one run: the addon's own X25519 rate on one core (X, src/bench/addon-baseline.ts: the OpenSSL
 * inside Node that the node really uses), the native Sphinx unwrap rate on one core, and the relay's sustained
 * rate (src/bench/relay.ts's search with short steps, no latency points). Absolute speeds drift by ±25 % between
 * hosts and runs, so it compares two ratios with the committed baseline (bench/baseline.json), X and unwrap
 * measured in alternating slices and the relay's X averaged from before and after its search (measurePaired):
 *
 *   sphinx_unwrap_vs_x25519 = native unwrap/s ÷ X
 *   relay_vs_x25519         = relay max_pkt_per_s ÷ X
 *
 * `openssl speed ecdhx25519` (the system binary) is still measured and reported beside them when installed,
 * but gates nothing: its speed relative to Node's OpenSSL differs between hosts (src/bench/addon-baseline.ts).
 *
 * and fails when either falls more than `tolerance` (15 %) below its baseline. Noise is handled at three
 * levels, so one noisy step on a shared CI runner does not fail the build while a real regression fails every
 * time: inside a search a failing step is retried once before it counts (searchMaxRate); the relay rate is the
 * median of `searches` (3) searches; and a failing ratio is measured once more (X included) before the gate
 * fails. `LOOPIX_BENCH_INJECT_SLOWDOWN=0.3` (honoured only by the benchmark's node process,
 * src/node/bench-slowdown.ts) removes 30 % of the node's unwrap throughput: the gate must then fail. `--update-baseline` writes the measured ratios as the new
 * baseline (do that on a quiet machine, and commit it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_GEOMETRY as g } from '../geometry.js';
import { repoRoot } from '../paths.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { Command } from '../sphinx/types.js';
import { measureAddonX25519, sliceRate, x25519Op } from './addon-baseline.js';
import { baseline, machineInfo, type MachineInfo } from './env.js';
import { searchMedian } from './relay.js';
import { DEFAULT_BENCH_PIPELINE, RelayRig } from './rig.js';
import { round } from './stats.js';

export interface GateOptions {
  /** Seconds of the addon X25519 measurement (the gate's baseline X). */
  readonly x25519Seconds: number;
  /** Seconds of `openssl speed` (reported only; 0 skips it). */
  readonly opensslSeconds: number;
  readonly sphinxSeconds: number;
  readonly stepSeconds: number;
  readonly workers: number;
  /** Relay searches whose median counts. */
  readonly searches: number;
  /** The relay node's packet path. */
  readonly pipeline: 'pool' | 'sharded';
  /** Most relay search steps. */
  readonly maxSteps: number;
  /** Loss a passing relay step may have (0.001; the smoke test loosens it). */
  readonly maxLoss: number;
  /** First offered rate of the relay search; null: 20 % of X. */
  readonly startRate: number | null;
  readonly tolerance: number | null;
  readonly baselineFile: string;
  readonly updateBaseline: boolean;
  readonly log: (line: string) => void;
}

export const GATE_DEFAULTS = {
  x25519Seconds: 3,
  opensslSeconds: 3,
  sphinxSeconds: 3,
  stepSeconds: 2,
  workers: availableParallelism(),
  searches: 3,
  pipeline: DEFAULT_BENCH_PIPELINE,
  maxSteps: 10,
  maxLoss: 0.001,
  tolerance: 0.15,
} as const;

export function defaultBaselineFile(): string {
  return join(repoRoot(), 'bench', 'baseline.json');
}

export interface GateBaseline {
  readonly sphinx_unwrap_vs_x25519: number;
  readonly relay_vs_x25519: number;
  readonly tolerance: number;
  readonly measured?: Record<string, unknown>;
  readonly note?: string;
}

export interface GateMeasurement {
  /** X: the addon's variable-base X25519 multiplications per second on one core. */
  readonly addon_x25519_per_s: number;
  /** The system `openssl speed ecdhx25519` figure, reported only (null when not installed or skipped). */
  readonly openssl_x25519_per_s: number | null;
  readonly unwrap_per_s: number;
  readonly relay_max_pkt_per_s: number;
  /** Each relay search's result; relay_max_pkt_per_s is their median. */
  readonly relay_searches: readonly number[];
  readonly sphinx_unwrap_vs_x25519: number;
  readonly relay_vs_x25519: number;
}

export interface GateCheck {
  readonly ratio: string;
  readonly measured: number;
  readonly baseline: number;
  /** baseline × (1 − tolerance). */
  readonly floor: number;
  readonly pass: boolean;
}

export interface GateResult {
  readonly pass: boolean;
  readonly checks: readonly GateCheck[];
  readonly attempts: readonly GateMeasurement[];
  readonly tolerance: number;
  readonly baseline_file: string;
  readonly baseline_updated: boolean;
  readonly seconds: number;
  readonly machine: MachineInfo;
  /** The one line CI shows. */
  readonly summary: string;
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Slices of each paired measurement: enough for a stable median, short enough to follow the host's drift. */
const PAIRED_SLICES = 10;

/**
 * X (the addon's X25519 rate) and the native unwrap rate measured in alternating slices on this thread, and the
 * median of the per-pair ratios. A cloud host's speed drifts by tens of per cent over seconds (seen here: X at
 * 24,862 and 32,285 op/s in two quiet runs minutes apart, while unwrap stayed at 12k); measured one after the
 * other, X and unwrap could catch different speeds and their ratio moved 25 %, more than the gate's tolerance.
 * Paired slices see the same host state, so their ratio is what stays put.
 */
export function measurePaired(seconds: number): { x: number; unwrap: number; ratio: number } {
  const b = loadNativeBackend();
  const sk = crypto.getRandomValues(new Uint8Array(32));
  const hop = {
    publicKey: b.x25519Base(sk),
    command: Command.RELAY,
    address: new Uint8Array(g.addressBytes).fill(1),
    delayUs: 0,
  };
  const pool = Array.from({ length: 64 }, () =>
    b.createPacket(g, { epoch: 1, hops: [hop], content: new Uint8Array(16) }),
  );
  const work = new Uint8Array(g.packetBytes);
  let i = 0;
  const unwrapOne = () => {
    work.set(pool[i++ % pool.length]!);
    if (b.unwrap(g, sk, work).kind !== 'relay') throw new Error('gate: benchmark packet did not unwrap');
  };
  const xOne = x25519Op();
  for (let k = 0; k < 200; k++) {
    xOne();
    unwrapOne();
  } // warm-up
  const sliceMs = (seconds * 1000) / (2 * PAIRED_SLICES);
  const xs: number[] = [];
  const us: number[] = [];
  const ratios: number[] = [];
  for (let s = 0; s < PAIRED_SLICES; s++) {
    const x = sliceRate(xOne, sliceMs, 16);
    const u = sliceRate(unwrapOne, sliceMs, 4);
    xs.push(x);
    us.push(u);
    ratios.push(u / x);
  }
  return { x: median(xs), unwrap: median(us), ratio: median(ratios) };
}

async function measureRelay(o: GateOptions, startRate: number): Promise<{ median: number; rates: readonly number[] }> {
  const rig = await RelayRig.start({ workers: o.workers, poolSize: 8192, log: o.log, pipeline: { mode: o.pipeline } });
  try {
    await rig.step(2000, 1500, false);
    const s = await searchMedian(rig, {
      stepSeconds: o.stepSeconds,
      startRate,
      growth: 1.3,
      resolution: 0.06,
      maxSteps: o.maxSteps,
      maxLoss: o.maxLoss,
      searches: o.searches,
      log: o.log,
    });
    return { median: s.best?.forwardedRate ?? 0, rates: s.rates };
  } finally {
    await rig.close();
  }
}

async function measureAll(
  o: GateOptions,
  which: { sphinx: boolean; relay: boolean },
  previous?: GateMeasurement,
): Promise<GateMeasurement> {
  const openssl = baseline(o.opensslSeconds, o.log).x25519PerS;
  // X and unwrap in alternating slices (measurePaired); with the sphinx ratio not re-measured, X alone.
  const paired = which.sphinx ? measurePaired(o.x25519Seconds + o.sphinxSeconds) : null;
  const xBefore = paired ? paired.x : measureAddonX25519(o.x25519Seconds);
  o.log(`addon X25519: ${Math.round(xBefore).toLocaleString('en-US')} op/s (one core, the OpenSSL inside Node)`);
  const unwrap = paired ? paired.unwrap : previous!.unwrap_per_s;
  if (paired)
    o.log(
      `native unwrap: ${Math.round(unwrap).toLocaleString('en-US')} packets/s (one core; ratio to X ${paired.ratio.toFixed(4)}, median of ${PAIRED_SLICES} paired slices)`,
    );
  const measured = which.relay ? await measureRelay(o, o.startRate ?? Math.max(1000, Math.round(0.2 * xBefore))) : null;
  const relay = measured ? measured.median : previous!.relay_max_pkt_per_s;
  // The relay search takes a minute or more while the host drifts: X before and after it, averaged.
  const xAfter = measured ? measureAddonX25519(Math.max(1, o.x25519Seconds / 2)) : xBefore;
  const xRelay = (xBefore + xAfter) / 2;
  if (measured)
    o.log(
      `relay: ${relay.toLocaleString('en-US')} packets/s sustained (loss < 0.1 %; median of ${measured.rates.join(', ')}); X after it ${Math.round(xAfter).toLocaleString('en-US')} op/s`,
    );
  const x = Math.round(xBefore);
  return {
    addon_x25519_per_s: x,
    openssl_x25519_per_s: openssl,
    unwrap_per_s: Math.round(unwrap),
    relay_max_pkt_per_s: relay,
    relay_searches: measured ? measured.rates : previous!.relay_searches,
    // A ratio not re-measured keeps its value; only the X of its own attempt counts.
    sphinx_unwrap_vs_x25519: paired ? round(paired.ratio, 4) : previous!.sphinx_unwrap_vs_x25519,
    relay_vs_x25519: which.relay ? round(relay / xRelay, 4) : previous!.relay_vs_x25519,
  };
}

function check(m: GateMeasurement, b: GateBaseline, tolerance: number): GateCheck[] {
  return (['sphinx_unwrap_vs_x25519', 'relay_vs_x25519'] as const).map((ratio) => {
    const floor = round(b[ratio] * (1 - tolerance), 4);
    return { ratio, measured: m[ratio], baseline: b[ratio], floor, pass: m[ratio] >= floor };
  });
}

export function readBaseline(file: string): GateBaseline | null {
  if (!existsSync(file)) return null;
  const b = JSON.parse(readFileSync(file, 'utf8')) as GateBaseline;
  for (const k of ['sphinx_unwrap_vs_x25519', 'relay_vs_x25519'] as const) {
    if (typeof b[k] !== 'number' || !(b[k] > 0))
      throw new Error(`${file}: ${k} must be a positive number (re-baseline with loopix bench gate --update-baseline)`);
  }
  return b;
}

export async function runGate(o: GateOptions): Promise<GateResult> {
  const started = performance.now();
  // Re-baselining replaces the file whatever it holds (also one from an older format).
  const stored = o.updateBaseline ? null : readBaseline(o.baselineFile);
  const tolerance = o.tolerance ?? stored?.tolerance ?? GATE_DEFAULTS.tolerance;
  const attempts: GateMeasurement[] = [await measureAll(o, { sphinx: true, relay: true })];
  let checks: GateCheck[] = [];
  let pass = true;
  let updated = false;
  if (o.updateBaseline || !stored) {
    const m = attempts[0]!;
    const next: GateBaseline = {
      sphinx_unwrap_vs_x25519: m.sphinx_unwrap_vs_x25519,
      relay_vs_x25519: m.relay_vs_x25519,
      tolerance,
      measured: { ...m, machine: machineInfo(null), at: new Date().toISOString() },
      note: "Ratios to the addon's own X25519 rate on one core (the OpenSSL inside Node) measured in the same run; `npm run bench:gate` fails when one falls more than `tolerance` below. Update with `loopix bench gate --update-baseline` on a quiet machine.",
    };
    writeFileSync(o.baselineFile, `${JSON.stringify(next, null, 2)}\n`);
    updated = true;
    checks = check(m, next, tolerance);
  } else {
    checks = check(attempts[0]!, stored, tolerance);
    const failing = checks.filter((c) => !c.pass);
    if (failing.length > 0) {
      o.log(`gate: ${failing.map((c) => `${c.ratio} ${c.measured} < ${c.floor}`).join(', ')}; measuring once more`);
      const again = await measureAll(
        o,
        {
          sphinx: failing.some((c) => c.ratio === 'sphinx_unwrap_vs_x25519'),
          relay: failing.some((c) => c.ratio === 'relay_vs_x25519'),
        },
        attempts[0],
      );
      attempts.push(again);
      // The better of the two attempts counts for each ratio.
      const best: GateMeasurement = {
        ...again,
        sphinx_unwrap_vs_x25519: Math.max(attempts[0]!.sphinx_unwrap_vs_x25519, again.sphinx_unwrap_vs_x25519),
        relay_vs_x25519: Math.max(attempts[0]!.relay_vs_x25519, again.relay_vs_x25519),
      };
      checks = check(best, stored, tolerance);
    }
    pass = checks.every((c) => c.pass);
  }
  const seconds = round((performance.now() - started) / 1000, 1);
  const parts = checks.map(
    (c) =>
      `${c.ratio} ${c.measured} ${c.pass ? '≥' : '<'} ${c.floor} (baseline ${c.baseline} − ${Math.round(tolerance * 100)} %)`,
  );
  const summary = updated
    ? `bench gate: BASELINE WRITTEN to ${o.baselineFile}: ${parts.join('; ')} [${seconds} s]`
    : `bench gate: ${pass ? 'PASS' : 'FAIL'}: ${parts.join('; ')} [${seconds} s]`;
  return {
    pass,
    checks,
    attempts,
    tolerance,
    baseline_file: o.baselineFile,
    baseline_updated: updated,
    seconds,
    machine: machineInfo(null),
    summary,
  };
}
