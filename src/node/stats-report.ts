/**
 * The node's snapshot and its control timers, shared by both packet paths: the AQM tick and the periodic
 * stats report (docs/pipeline.md "Stats"), which every `statsIntervalS` sends `{type: "stats", node, stats}`
 * over IPC when the process has a channel (the testnet and the benchmark rig listen there), else writes it as
 * one JSON line on stdout.
 */
import type { Logger } from 'pino';
import type { LoopEmitter } from './loops.js';
import type { LatencyHistogram, NodeMetrics } from './metrics.js';
import type { NodeSnapshot } from './pipeline.js';
import type { NodeConfig } from '../config/schema.js';
import type { NodeEntry } from '../topology/types.js';

/** The metrics plus own loops' round-trip times and per-node attribution (absent when loops are off). */
export function nodeSnapshot(
  metrics: NodeMetrics,
  loopRtt: LatencyHistogram,
  loops: LoopEmitter | undefined,
): NodeSnapshot {
  const loopPaths = loops?.monitor.attribution();
  return {
    ...metrics.snapshot(),
    loop_rtt: loopRtt.snapshot(),
    ...(loopPaths ? { loop_paths: loopPaths } : {}),
  };
}

/**
 * Starts a node's control timers, unref'd (they never keep the process alive), and returns them for the
 * pipeline to clear at close: `aqmTick` every `pipeline.aqm.intervalMs` (the AQM's control loop,
 * src/node/aqm.ts), and unless reports are off (`reportStats` false or `statsIntervalS` 0) the stats report,
 * which reads `stats` at each tick and never throws.
 */
export function startNodeTimers(
  o: {
    readonly config: NodeConfig;
    readonly self: NodeEntry;
    readonly reportStats?: boolean;
    readonly log: Logger;
  },
  hooks: { readonly aqmTick: () => void; readonly stats: () => object },
): NodeJS.Timeout[] {
  const timers = [setInterval(hooks.aqmTick, o.config.pipeline.aqm.intervalMs)];
  const intervalS = o.config.statsIntervalS;
  if (o.reportStats !== false && intervalS > 0) {
    timers.push(
      setInterval(() => {
        try {
          const message = { type: 'stats', node: o.self.id, stats: hooks.stats() };
          if (typeof process.send === 'function' && process.connected) process.send(message);
          else process.stdout.write(`${JSON.stringify(message)}\n`);
        } catch (err) {
          o.log.warn({ err: (err as Error).message }, 'could not report stats');
        }
      }, intervalS * 1000),
    );
  }
  for (const t of timers) t.unref();
  return timers;
}
