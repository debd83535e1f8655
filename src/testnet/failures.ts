/**
 * Failure injection for the testnet (issue 6 "Hardening", item "Failures"): SIGKILL a node's process at a
 * given second of the sending phase and, optionally, restart it later with the same config (same id, key and
 * UDP port; src/testnet/processes.ts). What the network loses meanwhile is not hidden: the summary counts the
 * messages and loops that never came back, and the loop attribution (src/testnet/loop-report.ts) names the
 * node they went through (Loopix §4.2.1: loops detect nodes that stop forwarding).
 *
 * Also here: the drain's quiet rule. Packets held by a killed node are gone, so after a failure the drain
 * cannot wait until "everything arrived"; it ends once nothing has arrived for `quietS` seconds — far longer
 * than a packet needs on loopback once the send buffers are empty (five Exp(µ) hops, a pull interval) — and
 * the summary lists what was lost instead of just "drained: false".
 */
import type { NodeProcess } from './processes.js';

export interface FailurePlan {
  /** Node name, e.g. "mix-2.0". */
  readonly node: string;
  /** Seconds after sending started. */
  readonly killAtS: number;
  /** Seconds after sending started; absent: the node stays down. */
  readonly restartAtS?: number;
}

/** What happened, in seconds since sending started (null: did not happen, e.g. the run ended first). */
export interface FailureRecord {
  readonly node: string;
  readonly kill_at_s: number;
  readonly killed_at_s: number | null;
  readonly kill_signal: string | null;
  readonly restart_at_s: number | null;
  /** When the new incarnation reported its first statistics, i.e. was up again. */
  readonly restarted_at_s: number | null;
  readonly restart_error: string | null;
  /**
   * The restarted incarnation's own report (its counters start at the restart): packets it forwarded, and its
   * own loops that became due and came back — the node is back in the network, both ways.
   */
  readonly after_restart: {
    readonly forwarded: number;
    readonly loops_due: number;
    readonly loops_returned: number;
  } | null;
}

/** Checks a plan against the network's node names before anything starts; throws a one-line message. */
export function validateFailurePlans(plans: readonly FailurePlan[], names: readonly string[]): void {
  const seen = new Set<string>();
  for (const p of plans) {
    if (!names.includes(p.node)) throw new RangeError(`--kill ${p.node}: no such node (nodes: ${names.join(', ')})`);
    if (seen.has(p.node)) throw new RangeError(`--kill ${p.node}: named twice`);
    seen.add(p.node);
    if (!(p.killAtS >= 0)) throw new RangeError(`--kill-at must be ≥ 0 s (got ${p.killAtS})`);
    if (p.restartAtS !== undefined && !(p.restartAtS > p.killAtS)) {
      throw new RangeError(`--restart-at (${p.restartAtS} s) must be after --kill-at (${p.killAtS} s)`);
    }
  }
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

class Injection {
  killedAt: number | null = null;
  killSignal: string | null = null;
  restartedAt: number | null = null;
  restartError: string | null = null;

  constructor(
    readonly plan: FailurePlan,
    readonly node: NodeProcess,
  ) {}

  record(t0: number): FailureRecord {
    return {
      node: this.plan.node,
      kill_at_s: this.plan.killAtS,
      killed_at_s: this.killedAt === null ? null : seconds(this.killedAt - t0),
      kill_signal: this.killSignal,
      restart_at_s: this.plan.restartAtS ?? null,
      restarted_at_s: this.restartedAt === null ? null : seconds(this.restartedAt - t0),
      restart_error: this.restartError,
      after_restart: this.afterRestart(),
    };
  }

  private afterRestart(): FailureRecord['after_restart'] {
    const s = this.restartedAt === null ? undefined : this.node.last;
    if (!s) return null;
    return {
      forwarded: s.counters.forwarded ?? 0,
      loops_due: s.loop_paths?.total.due ?? 0,
      loops_returned: s.loop_paths?.total.returned ?? 0,
    };
  }
}

export class FailureInjector {
  private readonly injections: Injection[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<void>>();
  private t0 = 0;
  private stopped = false;

  constructor(
    plans: readonly FailurePlan[],
    nodes: readonly NodeProcess[],
    private readonly log: (line: string) => void,
  ) {
    validateFailurePlans(
      plans,
      nodes.map((n) => n.node.name),
    );
    this.injections = plans.map(
      (p) =>
        new Injection(
          p,
          nodes.find((n) => n.node.name === p.node)!,
        ),
    );
  }

  get active(): boolean {
    return this.injections.length > 0;
  }

  /** Arms the timers; `t0` is performance.now() at the start of sending. */
  start(t0: number): void {
    this.t0 = t0;
    for (const inj of this.injections) {
      this.at(inj.plan.killAtS, () => this.kill(inj));
      if (inj.plan.restartAtS !== undefined) this.at(inj.plan.restartAtS, () => this.restart(inj));
    }
  }

  /** Cancels what has not happened yet and waits for a kill or restart in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.pending);
  }

  report(): FailureRecord[] {
    return this.injections.map((i) => i.record(this.t0));
  }

  /** Every planned kill and restart has happened (or failed): from now on, lost is lost. */
  get settled(): boolean {
    return this.injections.every(
      (i) =>
        i.killedAt !== null && (i.plan.restartAtS === undefined || i.restartedAt !== null || i.restartError !== null),
    );
  }

  /** performance.now() when the last planned restart completed; null if one is still due or failed. */
  get allRestartedAt(): number | null {
    let last = -Infinity;
    for (const i of this.injections) {
      if (i.plan.restartAtS === undefined) continue;
      if (i.restartedAt === null) return null;
      last = Math.max(last, i.restartedAt);
    }
    return last === -Infinity ? null : last;
  }

  private at(s: number, f: () => Promise<void>): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.stopped) return;
        const p = f().finally(() => this.pending.delete(p));
        this.pending.add(p);
      },
      Math.max(0, this.t0 + s * 1000 - performance.now()),
    );
    this.timers.add(timer);
  }

  private async kill(inj: Injection): Promise<void> {
    await inj.node.kill(); // resolves once the process is reaped, so its UDP port is free for restart()
    inj.killedAt = performance.now();
    inj.killSignal = inj.node.exitSignal;
    this.log(
      `testnet: killed ${inj.plan.node} (${inj.killSignal ?? `exit ${inj.node.exitCode}`}) at ${seconds(inj.killedAt - this.t0)} s`,
    );
  }

  private async restart(inj: Injection): Promise<void> {
    if (inj.node.running) {
      inj.restartError = 'still running at restart time (the kill did not happen)';
      return;
    }
    try {
      await inj.node.restart();
      inj.restartedAt = performance.now();
      this.log(`testnet: restarted ${inj.plan.node}, up at ${seconds(inj.restartedAt - this.t0)} s`);
    } catch (err) {
      inj.restartError = (err as Error).message;
      this.log(`testnet: restart of ${inj.plan.node} failed: ${inj.restartError}`);
    }
  }
}

/**
 * The drain's quiet rule: `quiet` once the progress count (messages delivered + loops returned) has not
 * changed for `quietMs`. Poll it; it samples on each read.
 */
export class QuietWatch {
  private value: number;
  private since: number;

  constructor(
    private readonly progress: () => number,
    private readonly quietMs: number,
    now = performance.now(),
  ) {
    this.value = progress();
    this.since = now;
  }

  quiet(now = performance.now()): boolean {
    const v = this.progress();
    if (v !== this.value) {
      this.value = v;
      this.since = now;
    }
    return now - this.since >= this.quietMs;
  }
}
