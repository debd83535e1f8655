/**
 * The node's periodic stats report (docs/pipeline.md "Stats"), shared by both packet paths: every
 * `statsIntervalS`, `{type: "stats", node, stats}` over IPC when the process has a channel (the testnet and
 * the benchmark rig listen there), else as one JSON line on stdout.
 */
import type { Logger } from 'pino';
import type { LoopEmitter } from './loops.js';
import type { LatencyHistogram, NodeMetrics } from './metrics.js';
import type { NodeSnapshot } from './pipeline.js';

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
 * Starts the report timer (unref'd: it never keeps the process alive) and returns it, or undefined when
 * reports are off (`enabled` false or an interval of 0). `stats` is read at each tick. Never throws.
 */
export function startStatsReports(o: {
  readonly enabled: boolean;
  readonly intervalS: number;
  readonly node: string;
  readonly stats: () => object;
  readonly log: Logger;
}): NodeJS.Timeout | undefined {
  if (!o.enabled || !(o.intervalS > 0)) return undefined;
  const timer = setInterval(() => {
    try {
      const message = { type: 'stats', node: o.node, stats: o.stats() };
      if (typeof process.send === 'function' && process.connected) process.send(message);
      else process.stdout.write(`${JSON.stringify(message)}\n`);
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, 'could not report stats');
    }
  }, o.intervalS * 1000);
  timer.unref();
  return timer;
}
