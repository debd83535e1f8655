/**
 * `loopix testnet --prometheus`: a real Prometheus server (Debian's) scrapes every node of a running testnet;
 * its HTTP API shows every node's forwarded-packet counter rising, and every query of the Grafana dashboard
 * (dashboards/loopix.json) names a metric the nodes really export. The server runs on loopback with its
 * storage in a temporary directory and is gone when the testnet ends.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runQuietTestnet } from './helpers/testnet-run.js';
import type { PrometheusServer } from '../src/testnet/prometheus.js';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
const DASHBOARD = fileURLToPath(new URL('../dashboards/loopix.json', import.meta.url));

/** Every metric name a PromQL expression mentions (the project's metric prefixes). */
export function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:loopix|process|nodejs)_[a-zA-Z0-9_]+)/g)].map((m) => m[1]!);
}

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

describe('loopix testnet --prometheus', () => {
  it.skipIf(!hasPrometheus)(
    "scrapes every node: each node's forwarded counter rises, and every dashboard query names an exported metric",
    async () => {
      let seen:
        | { names: Set<string>; rising: Map<string, number>; up: number; pid: number | undefined; url: string }
        | undefined;
      const summary = await runQuietTestnet({
        shape: { layers: 2, perLayer: 1, providers: 1, epoch: 1 },
        clients: 2,
        durationS: 8,
        drainTimeoutS: 20,
        messageIntervalS: 2,
        params: {},
        prometheus: true,
        onPrometheus: async (server: PrometheusServer) => {
          const up = await server.query('up{job="loopix"}');
          const rising = await server.query('increase(loopix_packets_forwarded_total[1m])');
          const names = (await (await fetch(`${server.url}/api/v1/label/__name__/values`)).json()) as {
            data: string[];
          };
          seen = {
            names: new Set(names.data),
            rising: new Map(rising.map((r) => [r.metric.node!, Number(r.value[1])])),
            up: up.filter((r) => r.value[1] === '1').length,
            pid: server.pid,
            url: server.url,
          };
        },
      });
      expect(seen).toBeDefined();
      const s = seen!;
      expect(s.up).toBe(summary.nodes);
      expect([...s.rising.keys()].sort()).toEqual(['mix-1.0', 'mix-2.0', 'provider-0']);
      for (const [node, increase] of s.rising) expect(increase, node).toBeGreaterThan(0);
      expect(summary.prometheus?.targets_up).toBe(summary.nodes);

      // The dashboard: every panel query names only metrics the nodes exported to this Prometheus.
      const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
      const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
      expect(queries.length).toBeGreaterThan(15);
      for (const q of queries) {
        const names = metricNames(q.expr);
        expect(names.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
        for (const n of names) expect(s.names.has(n), `${q.panel}: ${n} is not exported by any node`).toBe(true);
      }

      // Gone: the process and its port.
      expect(() => process.kill(s.pid!, 0)).toThrow();
      await expect(fetch(`${s.url}/-/ready`)).rejects.toThrow();
    },
    120_000,
  );

  it('the metric-name extraction finds names inside functions and selectors', () => {
    expect(
      metricNames(
        'histogram_quantile(0.5, sum by (le) (rate(loopix_processing_overhead_seconds_bucket{node=~"$node"}[1m])))',
      ),
    ).toEqual(['loopix_processing_overhead_seconds_bucket']);
    expect(metricNames('a / loopix_x_total + process_resident_memory_bytes')).toEqual([
      'loopix_x_total',
      'process_resident_memory_bytes',
    ]);
  });
});
