/**
 * Everything a running node exports to its operator beyond the pipeline's own counters: process metrics,
 * the live mixing health, key-epoch timing, loop returns per node on the loops' paths, a `loopix_node_info`
 * series, readiness — and the HTTP endpoint serving them (src/ops/http.ts). Started by `loopix mix` and
 * `loopix provider` when the node config has an `ops` section; runs on the main thread only.
 */
import { collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import type { RunningNode } from '../node/mix.js';
import type { NodeSetup } from '../node/pipeline.js';
import { isLoopback, remoteBindError, startOpsServer, type HealthReport, type OpsServer } from './http.js';
import { MixingHealth } from './mixing-health.js';
import { LOOPIX_VERSION } from '../version.js';
import { trustOf } from '../directory/config.js';

/** How long one topology check serves /healthz, ms (it reads and verifies the signed file). */
const TOPOLOGY_CHECK_CACHE_MS = 5000;

/** Registers the operator metrics on the node's registry; returns the readiness check. */
export function registerNodeOps(node: RunningNode, setup: NodeSetup, windowS = 60): () => HealthReport {
  const { config, self, topology } = setup;
  const metrics = node.pipeline.metrics;
  const registry = metrics.registry;
  collectDefaultMetrics({ register: registry });
  // prom-client names these gauges `…_total`, which the exposition conventions (and promtool) reserve for
  // counters; nodejs_active_{handles,requests,resources} (without _total) carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);

  new Gauge({
    name: 'loopix_node_info',
    help: 'Always 1; labels name the node, its layer (0: provider) and the loopix version.',
    labelNames: ['name', 'layer', 'version'],
    registers: [registry],
  }).set({ name: self.name, layer: String(self.layer), version: LOOPIX_VERSION }, 1);

  // Key epochs (docs/operations.md "Key epochs"): when the current key is replaced by the next one.
  new Gauge({
    name: 'loopix_key_epoch_next_rotation_seconds',
    help: "Seconds until the next key-epoch boundary of the topology's schedule (absent for a network whose keys do not rotate).",
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      const next = topology.epochStart(topology.epochAt(now) + 1);
      if (Number.isFinite(next)) this.set((next - now) / 1000);
    },
  });

  const names = new Map(topology.doc.nodes.map((n) => [n.id, n.name]));
  const loops = node.pipeline.loops;
  if (loops) {
    const through = (kind: 'due' | 'returned') =>
      new Counter({
        name: `loopix_loops_${kind}_through_total`,
        help: `Own loops that became due${kind === 'returned' ? ' and came back' : ''}, by node on their path (via; the first via of a loop is its next hop). Compare via ratios to find a node that loses loops.`,
        labelNames: ['via'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [id, c] of Object.entries(loops.monitor.attribution().total.through))
            this.inc({ via: names.get(id) ?? id }, c[kind]);
        },
      });
    through('due');
    through('returned');
    new Gauge({
      name: 'loopix_loop_return_ratio_through',
      help: 'Fraction of the own loops due in the loop window that came back, by node on their path (via).',
      labelNames: ['via'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [id, c] of Object.entries(loops.monitor.attribution().window.through))
          if (c.due > 0) this.set({ via: names.get(id) ?? id }, c.returned / c.due);
      },
    });
  }

  const probe = node.pipeline.probe;
  if (probe) {
    const health = new MixingHealth({
      role: self.role,
      layer: self.layer,
      mu: config.params.mu,
      layers: topology.doc.layers,
      windowS,
    });
    probe.addListener(health);
    health.register(registry);
  }

  let topologyCheck: { at: number; result: true | string } | undefined;
  const checkTopology = (): true | string => {
    const now = Date.now();
    if (topologyCheck && now - topologyCheck.at < TOPOLOGY_CHECK_CACHE_MS) return topologyCheck.result;
    let result: true | string;
    try {
      const doc = new TopologyIndex(loadTopologyFile(config.topologyFile, trustOf(config)));
      const epoch = doc.epochAt(now);
      if (!doc.node(self.id)) result = `${config.topologyFile} no longer lists this node`;
      // A document carries keys for its epoch and the next: beyond that senders cannot reach this node.
      else if (epoch > doc.doc.epoch + 1)
        result = `${config.topologyFile} is for epoch ${doc.doc.epoch}, the schedule is at epoch ${epoch}: no newer document was published`;
      else result = true;
    } catch (err) {
      result = (err as Error)?.message ?? String(err);
    }
    topologyCheck = { at: now, result };
    return result;
  };

  return () => {
    const g = metrics.snapshot().gauges;
    const checks: Record<string, true | string> = {
      keys:
        typeof g.key_epochs_live === 'number' && g.key_epochs_live > 0
          ? true
          : `no live epoch key (key_epoch ${String(g.key_epoch)}): add keys to ${config.keyFile}`,
      topology: checkTopology(),
      workers: typeof g.workers === 'number' && g.workers > 0 ? true : 'no crypto worker running',
    };
    return { ready: Object.values(checks).every((c) => c === true), checks };
  };
}

/** Refuses an `ops.listen` off this host without `ops.allowRemote` (checked before the node starts). */
export function checkOpsBinding(setup: NodeSetup): void {
  const ops = setup.config.ops;
  if (ops && !isLoopback(ops.listen.host) && !ops.allowRemote) throw remoteBindError(ops.listen.host);
}

/** Registers the operator metrics and starts `/metrics` + `/healthz` when the config has `ops`. */
export async function startNodeOps(node: RunningNode, setup: NodeSetup): Promise<OpsServer | undefined> {
  const ops = setup.config.ops;
  if (!ops) return undefined;
  const health = registerNodeOps(node, setup, ops.mixingWindowS);
  return startOpsServer({
    host: ops.listen.host,
    port: ops.listen.port,
    allowRemote: ops.allowRemote,
    registry: node.pipeline.metrics.registry,
    health,
  });
}
