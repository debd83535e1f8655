/**
 * Prometheus for a testnet (`loopix testnet --prometheus`): the scrape config every testnet writes
 * (`<dir>/prometheus.yml`, one target per node's /metrics, labelled with its name, role and layer), and a real
 * Prometheus server (Debian's `prometheus` package) started on loopback with its storage in a temporary
 * directory, queried through its HTTP API, and killed — storage removed — when the testnet ends, also when it
 * ends by an error or a signal.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopixError } from '../errors.js';

export interface ScrapeTarget {
  readonly name: string;
  readonly role: string;
  readonly layer: number;
  /** host:port of the node's /metrics. */
  readonly address: string;
}

/** Writes `<dir>/prometheus.yml` scraping every target every `intervalS`; returns its path. */
export function writeScrapeConfig(dir: string, targets: readonly ScrapeTarget[], intervalS = 1): string {
  const file = join(dir, 'prometheus.yml');
  const lines = [
    '# Written by loopix testnet: one target per node (docs/operations.md "Dashboard").',
    'global:',
    `  scrape_interval: ${intervalS}s`,
    `  evaluation_interval: ${intervalS}s`,
    'scrape_configs:',
    '  - job_name: loopix',
    '    metrics_path: /metrics',
    '    static_configs:',
    ...targets.flatMap((t) => [
      `      - targets: ['${t.address}']`,
      `        labels: { node: '${t.name}', node_role: '${t.role}', layer: '${t.layer}' }`,
    ]),
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** The `prometheus` executable on PATH, or null. */
export function findPrometheus(): string | null {
  const r = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'prometheus' : null;
}

export interface PrometheusQueryResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export class PrometheusServer {
  private exited: Promise<void>;
  private readonly onExit = () => this.child.kill('SIGKILL');

  private constructor(
    private readonly child: ChildProcess,
    /** http://127.0.0.1:PORT */
    readonly url: string,
    private readonly storage: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // A testnet that dies takes its Prometheus with it (the storage dir is in tmp; the OS cleans that).
    process.once('exit', this.onExit);
  }

  /** Starts Prometheus on 127.0.0.1:`port` with `configFile`; resolves once /-/ready answers 200. */
  static async start(o: {
    configFile: string;
    port: number;
    logFile: string;
    timeoutMs?: number;
  }): Promise<PrometheusServer> {
    const bin = findPrometheus();
    if (!bin)
      throw new LoopixError(
        'ERR_LOOPIX_TESTNET_NO_PROMETHEUS',
        '--prometheus needs the prometheus server on PATH (Debian: apt-get install prometheus)',
        { field: '--prometheus' },
      );
    const storage = mkdtempSync(join(tmpdir(), 'loopix-prometheus-'));
    const log = openSync(o.logFile, 'a');
    const child = spawn(
      bin,
      [
        `--config.file=${o.configFile}`,
        `--storage.tsdb.path=${storage}`,
        `--web.listen-address=127.0.0.1:${o.port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const server = new PrometheusServer(child, `http://127.0.0.1:${o.port}`, storage);
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null) {
        await server.stop();
        throw new LoopixError(
          'ERR_LOOPIX_TESTNET_PROMETHEUS_START',
          `prometheus exited with code ${child.exitCode} (see ${o.logFile})`,
        );
      }
      try {
        if ((await fetch(`${server.url}/-/ready`)).status === 200) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new LoopixError(
          'ERR_LOOPIX_TESTNET_PROMETHEUS_START',
          `prometheus did not become ready within ${(o.timeoutMs ?? 30_000) / 1000} s (see ${o.logFile})`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** An instant query through the HTTP API (/api/v1/query). */
  async query(promql: string): Promise<PrometheusQueryResult[]> {
    const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { result: PrometheusQueryResult[] } };
    if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error ?? r.status}`);
    return body.data!.result;
  }

  /** SIGTERM (SIGKILL after 5 s), then removes the storage directory. */
  async stop(): Promise<void> {
    process.off('exit', this.onExit);
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.storage, { recursive: true, force: true });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}
