/**
 * A node's own loop cover traffic and the (n-1)-attack detector built on it (Loopix §3.2 and §4.2.1).
 *
 * Emission: a Poisson process at λM (Exp(λM) inter-arrival times from the CSPRNG, one timer). Each loop is a
 * Sphinx packet over the layers after this node's layer, cyclically, with one random provider in the
 * provider slot, ending at this node with command LOOP and a fresh random loop id (docs/pipeline.md
 * "Paths"): from layer 1 of 3, L2 → L3 → P → L1(self); from layer 3, P → L1 → L2 → L3(self); a provider's
 * own loop is L1 → L2 → L3 → P(self). Per-hop delays are Exp(µ), drawn here like a client's.
 *
 * Detection: a loop is *due* once its known total delay plus a generous processing margin has passed (so
 * normal latency is never mistaken for loss). Over a sliding window of `loopWindowS` seconds of due loops,
 * the node tracks the fraction that came back. Below r = `loopAlarmFraction` (§4.2.1: a mix that sees fewer
 * than r of its loops return assumes it is being isolated) it logs an alarm and applies the paper's gentle
 * countermeasure — more cover traffic on its outgoing links: λM × `loopAlarmRateFactor` while the alarm
 * stands. At least MIN_DUE_LOOPS due loops are needed to raise or clear the alarm, so one lost loop at
 * start-up is not an attack.
 *
 * Attribution: the alarm says *that* loops stopped returning, not *where*. Every loop's path is known to its
 * sender, so the monitor also counts due and returned loops per node on the path (the sender itself
 * excluded: it is every one of its loops' last hop). Over the same window, and cumulatively since start: a
 * failed or dropping node shows as the one whose loops fail while loops avoiding it return (§4.2.1 assumes
 * loss from congestion is spread over all paths; loss at one node is not). src/testnet/loop-report.ts turns
 * the counts of all senders into a verdict.
 */
import { randomBytes } from 'node:crypto';
import type { Geometry } from '../geometry.js';
import { Command, MAX_DELAY_US, type HopSpec, type SphinxBackend } from '../sphinx/types.js';
import type { TopologyIndex } from '../topology/document.js';
import { effectiveMaxDelayUs } from '../max-delay.js';
import type { NodeEntry } from '../topology/types.js';
import {
  LOOP_MARGIN_BASE_MS,
  LOOP_MARGIN_PER_HOP_MS,
  LoopMonitor,
  type LoopReturn,
  type LoopWindowState,
} from '../loops/monitor.js';
import { uniformValidPath } from '../directory/paths.js';
import { linkKey, loopLinks } from '../loops/link-stats.js';
import type { NodeConfig } from '../config/schema.js';
import type { CounterName } from './counters.js';

// The bookkeeping half lives in src/loops/monitor.ts (clients use it too); re-exported for node-side callers.
export * from '../loops/monitor.js';

/** A uniform draw in [0, 1) with 53 random bits from the CSPRNG. */
export function uniform(): number {
  const b = randomBytes(8);
  return (b.readUInt32BE(0) * 2 ** 21 + (b.readUInt32BE(4) >>> 11)) / 2 ** 53;
}

/** An Exp(rate) draw (rate per second), in seconds. */
export function exponential(ratePerS: number): number {
  return -Math.log(1 - uniform()) / ratePerS;
}

export interface LoopEmitterOptions {
  readonly geometry: Geometry;
  readonly backend: SphinxBackend;
  readonly topology: TopologyIndex;
  readonly self: NodeEntry;
  readonly lambdaM: number;
  readonly mu: number;
  readonly windowS: number;
  readonly alarmFraction: number;
  readonly alarmRateFactor: number;
  /** Sends the loop's first datagram. */
  readonly send: (packet: Uint8Array, to: NodeEntry) => void;
  readonly count: (name: CounterName, by?: number) => void;
  readonly onRtt: (ms: number) => void;
  readonly log: {
    warn(o: object, msg: string): void;
    info(o: object, msg: string): void;
    error(o: object, msg: string): void;
  };
}

/** The loop parameters of a node's config (Loopix §3.2: λM and µ; §4.2.1: the alarm and its countermeasure). */
export function loopParamsOf(
  p: NodeConfig['params'],
): Pick<LoopEmitterOptions, 'lambdaM' | 'mu' | 'windowS' | 'alarmFraction' | 'alarmRateFactor'> {
  return {
    lambdaM: p.lambdaM,
    mu: p.mu,
    windowS: p.loopWindowS,
    alarmFraction: p.loopAlarmFraction,
    alarmRateFactor: p.loopAlarmRateFactor,
  };
}

/**
 * A node's own loop stream (absent when `loops` is false), wired the same way on both pipeline paths: only
 * where a loop's first datagram goes (`send`) and who else hears of a returned loop (`onRtt`) differ.
 */
export function nodeLoopEmitter(
  o: {
    readonly config: NodeConfig;
    readonly topology: TopologyIndex;
    readonly self: NodeEntry;
    readonly backend: SphinxBackend;
    readonly loops?: boolean;
    readonly log: { child(bindings: object): LoopEmitterOptions['log'] };
  },
  hooks: Pick<LoopEmitterOptions, 'send' | 'count' | 'onRtt'>,
): LoopEmitter | undefined {
  if (o.loops === false) return undefined;
  return new LoopEmitter({
    geometry: o.topology.geometry,
    backend: o.backend,
    topology: o.topology,
    self: o.self,
    ...loopParamsOf(o.config.params),
    ...hooks,
    log: o.log.child({ module: 'loops' }),
  });
}

/** The emitting half: the Poisson timer, path choice, packet creation. */
export class LoopEmitter {
  readonly monitor: LoopMonitor;
  private timer: NodeJS.Timeout | undefined;
  private evalTimer: NodeJS.Timeout | undefined;
  private running = false;
  /** The current topology document (replaced by setTopology when the next epoch's document arrives). */
  private topology: TopologyIndex;
  private readonly hopCount: number;

  constructor(private readonly o: LoopEmitterOptions) {
    this.monitor = new LoopMonitor(o.windowS * 1000, o.alarmFraction);
    this.topology = o.topology;
    this.hopCount = o.topology.doc.layers + 1;
    if (this.hopCount > o.geometry.maxHops) {
      throw new RangeError(
        `a loop over ${o.topology.doc.layers} layers needs ${this.hopCount} hops, geometry.maxHops is ${o.geometry.maxHops}`,
      );
    }
  }

  /** Current emission rate, 1/s (λM, raised while the alarm stands). */
  get rate(): number {
    return this.o.lambdaM * (this.monitor.alarm ? this.o.alarmRateFactor : 1);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.armNext();
    const every = Math.max(100, Math.min(1000, (this.o.windowS * 1000) / 10));
    this.evalTimer = setInterval(() => this.evaluate(), every);
    this.evalTimer.unref();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.evalTimer) clearInterval(this.evalTimer);
    this.timer = this.evalTimer = undefined;
  }

  /** A loop came back through the pipeline; false when the id is not one of ours (counted by the caller). */
  onReturn(id: Uint8Array): LoopReturn {
    const r = this.monitor.returned(id, performance.now());
    if (r.kind === 'returned') {
      this.o.count('loops_returned');
      this.o.onRtt(r.rttMs);
    }
    return r;
  }

  evaluate(now = performance.now()): LoopWindowState {
    const { state, changed } = this.monitor.evaluate(now);
    if (changed && state.alarm) {
      this.o.log.warn(
        {
          loops_due: state.due,
          loops_returned: state.returned,
          fraction: state.fraction,
          threshold: this.o.alarmFraction,
          new_rate: this.rate,
        },
        'loop alarm: fewer loops return than the threshold r (possible (n-1) attack, Loopix §4.2.1); raising the loop cover rate',
      );
    } else if (changed) {
      this.o.log.info(
        { loops_due: state.due, loops_returned: state.returned, fraction: state.fraction },
        'loop alarm cleared; loop cover rate back to λM',
      );
    }
    if (changed && this.running) this.armNext(); // apply the new rate now, not after the current gap
    return state;
  }

  /** Adopts a newer topology document (same nodes; the keys of the next epochs). */
  setTopology(topology: TopologyIndex): void {
    this.topology = topology;
  }

  /** Builds and sends one loop now (also used by tests). */
  emit(): void {
    try {
      const g = this.o.geometry;
      // The key epoch by the document's schedule (docs/operations.md "Key epochs"), as a client picks it.
      const epoch = this.topology.senderEpoch(Date.now());
      const path = this.path();
      const loopId = randomBytes(g.addressBytes);
      let totalDelayMs = 0;
      // Within the network's per-hop bound (src/max-delay.ts), redrawn above it as clients do.
      const maxUs = Math.min(MAX_DELAY_US, effectiveMaxDelayUs(this.topology.doc, this.o.mu));
      const drawUs = (): number => {
        for (;;) {
          const us = Math.round(exponential(this.o.mu) * 1e6);
          if (us <= maxUs) return us;
        }
      };
      const hops: HopSpec[] = path.map((node, i) => {
        const last = i === path.length - 1;
        const delayUs = last ? 0 : drawUs();
        totalDelayMs += delayUs / 1000;
        return {
          publicKey: Uint8Array.from(Buffer.from(this.topology.keyFor(node, epoch)!, 'hex')),
          command: last ? Command.LOOP : Command.RELAY,
          address: last ? loopId : Uint8Array.from(Buffer.from(path[i + 1]!.id, 'hex')),
          delayUs,
        };
      });
      const packet = this.o.backend.createPacket(g, { epoch: epoch & 0xffff, hops, content: new Uint8Array(0) });
      const now = performance.now();
      const margin = LOOP_MARGIN_BASE_MS + LOOP_MARGIN_PER_HOP_MS * path.length;
      const pathIds = path.map((n) => n.id);
      this.monitor.sent(
        loopId,
        now,
        now + totalDelayMs + margin,
        pathIds.slice(0, -1),
        loopLinks(this.o.self.id, pathIds),
      );
      this.o.send(packet, path[0]!);
    } catch (err) {
      this.o.count('loop_create_error');
      this.o.log.error({ err: (err as Error).message }, 'could not create a loop packet');
    }
  }

  /** The hops after this node (see the module comment); the last one is this node. */
  path(): NodeEntry[] {
    const { self } = this.o;
    const topology = this.topology;
    const L = topology.doc.layers;
    const pick = (layer: number): NodeEntry => {
      const nodes = topology.layerNodes[layer]!;
      return nodes[Math.floor(uniform() * nodes.length)]!;
    };
    const stages: (readonly NodeEntry[])[] = [];
    for (let k = 1; k <= L; k++) stages.push(topology.layerNodes[(self.layer + k) % (L + 1)]!);
    // Uniformly among the paths avoiding removed links and excluded nodes (AnonPoP §2), when the document
    // names any; without a valid one, every path as before.
    if (topology.excluded.size > 0 || topology.removedLinks.size > 0) {
      const valid = uniformValidPath(
        [...stages, [self]],
        (a, b) =>
          topology.usable(a, b) ||
          (b === self.id && !topology.removedLinks.has(linkKey(a, b)) && !topology.excluded.has(a)),
        uniform,
        self,
      );
      if (valid) return valid;
    }
    const path: NodeEntry[] = stages.map((_, k) => pick((self.layer + k + 1) % (L + 1)));
    path.push(self);
    return path;
  }

  private armNext(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.running) return;
    const waitMs = exponential(this.rate) * 1000;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.emit();
        this.armNext();
      },
      Math.min(waitMs, 2 ** 31 - 1),
    );
    this.timer.unref();
  }
}
