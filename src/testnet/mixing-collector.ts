/**
 * Accumulates the `mixing_probe` samples (src/node/mixing-probe.ts) that every node process sends with each
 * statistics report over IPC; each report carries only the samples since the previous one, so the testnet
 * keeps the whole run here and hands it to analyzeMixing (src/mixing/analysis.ts, which knows nothing of processes) at the end.
 */
import type { MixingProbeReport } from '../node/mixing-probe.js';
import type { NodeSnapshot } from '../node/pipeline.js';
import type { NodeSamples } from '../mixing/analysis.js';
import type { NodeProcess } from './processes.js';

interface Accumulated {
  pool: [number, number][];
  enter: number[];
  depart: number[];
  loops: [number, number][];
  overflow: number;
}

export class MixingCollector {
  private readonly byNode = new Map<string, Accumulated>();

  /** Subscribes to every report of these node processes (before they start). */
  attach(nodes: readonly NodeProcess[]): void {
    for (const n of nodes) n.onReport = (stats) => this.add(n.node.name, stats);
  }

  add(name: string, stats: NodeSnapshot): void {
    const r = (stats as NodeSnapshot & { mixing_probe?: MixingProbeReport }).mixing_probe;
    if (!r) return;
    let a = this.byNode.get(name);
    if (!a) this.byNode.set(name, (a = { pool: [], enter: [], depart: [], loops: [], overflow: 0 }));
    // push in chunks: spreading a very long array into push() would overflow the call stack
    const append = <T>(to: T[], from: readonly T[]) => {
      for (let i = 0; i < from.length; i += 10_000) to.push(...from.slice(i, i + 10_000));
    };
    append(a.pool, r.pool);
    append(a.enter, r.enter);
    append(a.depart, r.depart);
    append(a.loops, r.loops);
    a.overflow += r.overflow;
  }

  /** Everything each node reported, in the order of `nodes`. */
  samples(nodes: readonly NodeProcess[]): NodeSamples[] {
    return nodes.map((n) => {
      const a = this.byNode.get(n.node.name) ?? { pool: [], enter: [], depart: [], loops: [], overflow: 0 };
      return { name: n.node.name, role: n.node.role, layer: n.node.entry.layer, ...a };
    });
  }
}
