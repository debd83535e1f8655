/**
 * The paper's testbed, on loopback (Loopix §5 "Experimental Setup"): six mix nodes in three stratified layers
 * of two and four providers, every node its own `loopix mix|provider` process (src/testnet), and clients as
 * real LoopixClient instances spread over a few client-host processes (src/bench/client-host.ts). One run:
 * start the network, connect the clients, let them send for a warm-up, then measure for `measureS` seconds
 * as the difference between two statistics reports of every node and client host; shut everything down.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkParams } from '../../config/schema.js';
import type { NodeSnapshot } from '../../node/pipeline.js';
import { loadSphinx } from '../../sphinx/loader.js';
import { benchScript, request as ipcRequest } from '../ipc.js';
import { createTestnetFiles } from '../../testnet/network.js';
import { NodeProcess } from '../../testnet/processes.js';
import type { HostStats } from '../client-host.js';
import { processCpuMs } from '../rig.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** What every testbed figure (fig8/9/10) is run with, besides its own clients (and steps). */
export interface TestbedFigureOptions {
  /** Seconds of load before measuring. */
  readonly warmupS: number;
  /** Seconds measured (per step or point). */
  readonly measureS: number;
  /** Clients' pull interval, ms. */
  readonly pullIntervalMs: number;
  /** Seconds for the openssl ecdhx25519 baseline (0 skips it). */
  readonly opensslSeconds: number;
  readonly log: (line: string) => void;
}

export interface LoadRunOptions {
  readonly params: Partial<NetworkParams>;
  readonly clients: number;
  /** Real messages per client per second (≤ λP keeps the send buffers bounded). */
  readonly messagesPerClientPerS: number;
  readonly warmupS: number;
  readonly measureS: number;
  /** Client-host processes. */
  readonly hosts?: number;
  readonly workersPerNode?: number;
  readonly log: (line: string) => void;
}

export interface NodeDelta {
  readonly name: string;
  readonly role: string;
  readonly layer: number;
  readonly before: NodeSnapshot;
  readonly after: NodeSnapshot;
  /** Process CPU (all threads) ÷ wall time over the measurement. */
  readonly cpuCores: number | null;
}

export interface LoadRunResult {
  readonly measuredS: number;
  readonly nodes: readonly NodeDelta[];
  readonly hostsBefore: readonly HostStats[];
  readonly hostsAfter: readonly HostStats[];
  readonly connected: number;
  readonly clientHostCpuCores: number;
}

function hostScript(): string {
  return benchScript('client-host');
}

function request<T>(child: ChildProcess, msg: object, reply: string, timeoutMs = 180_000): Promise<T> {
  return ipcRequest<T>(child, msg, reply, { timeoutMs, label: 'client host' });
}

/** One measured run of the testbed (see the module comment). */
export async function runTestnetLoad(o: LoadRunOptions): Promise<LoadRunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'loopix-bench-fig-'));
  const { backend } = loadSphinx();
  const files = await createTestnetFiles({
    dir,
    shape: { layers: 3, perLayer: 2, providers: 4, epoch: 1 },
    backend,
    params: o.params,
    nodeConfig: { pipeline: { workers: o.workersPerNode ?? 1 }, statsIntervalS: 1, log: { level: 'warn' } },
  });
  // Every client connects from 127.0.0.1: lift the providers' per-address connection limit (a limit against
  // abuse from one host, src/provider/limits.ts) so 500 clients can reach four providers.
  for (const n of files.nodes.filter((x) => x.role === 'provider')) {
    const config = JSON.parse(readFileSync(n.configFile, 'utf8')) as { provider: Record<string, unknown> };
    config.provider.limits = { ...(config.provider.limits as object | undefined), maxConnectionsPerAddress: 0 };
    writeFileSync(n.configFile, `${JSON.stringify(config, null, 2)}\n`);
  }
  const nodes = files.nodes.map((n) => new NodeProcess(n, dir));
  const hostCount = Math.max(1, Math.min(o.hosts ?? 2, o.clients));
  const hosts: ChildProcess[] = [];
  try {
    for (const n of nodes) n.start();
    await Promise.all(nodes.map((n) => n.ready));
    for (let h = 0; h < hostCount; h++) {
      const child = fork(hostScript(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      hosts.push(child);
      await request(
        child,
        {
          type: 'init',
          topologyFile: files.topologyFile,
          authorityPublicKey: files.authority.publicKey,
          params: o.params,
          providerOffset: h,
        },
        'ready',
      );
    }
    const per = (h: number) => Math.floor(o.clients / hostCount) + (h < o.clients % hostCount ? 1 : 0);
    const added = await Promise.all(
      hosts.map((c, h) => request<{ connected: number }>(c, { type: 'add', count: per(h) }, 'added')),
    );
    const connected = added.reduce((a, x) => a + x.connected, 0);
    o.log(`testbed: ${nodes.length} nodes, ${connected}/${o.clients} clients connected (${hostCount} client hosts)`);
    if (o.messagesPerClientPerS > 0)
      await Promise.all(
        hosts.map((c) => request(c, { type: 'messages', perClientPerS: o.messagesPerClientPerS }, 'ok')),
      );
    await sleep(o.warmupS * 1000);
    const before = await Promise.all(nodes.map((n) => n.nextStats(5000)));
    const cpu0 = nodes.map((n) => nodePid(n)).map((pid) => (pid ? processCpuMs(pid) : null));
    const hostsBefore = await Promise.all(hosts.map((c) => request<HostStats>(c, { type: 'stats' }, 'stats')));
    const t0 = performance.now();
    await sleep(o.measureS * 1000);
    const after = await Promise.all(nodes.map((n) => n.nextStats(5000)));
    const measuredS = (performance.now() - t0) / 1000;
    const cpu1 = nodes.map((n) => nodePid(n)).map((pid) => (pid ? processCpuMs(pid) : null));
    const hostsAfter = await Promise.all(hosts.map((c) => request<HostStats>(c, { type: 'stats' }, 'stats')));
    const hostCpu = hostsAfter.reduce((a, h, i) => a + h.cpu_ms - hostsBefore[i]!.cpu_ms, 0) / 1000 / measuredS;
    return {
      measuredS,
      nodes: nodes.map((n, i) => ({
        name: n.node.name,
        role: n.node.role,
        layer: n.node.entry.layer,
        before: before[i]!,
        after: after[i]!,
        cpuCores: cpu0[i] != null && cpu1[i] != null ? (cpu1[i] - cpu0[i]) / 1000 / measuredS : null,
      })),
      hostsBefore,
      hostsAfter,
      connected,
      clientHostCpuCores: hostCpu,
    };
  } finally {
    await Promise.all(hosts.map((c) => request(c, { type: 'stop' }, 'stopped', 20_000).catch(() => c.kill())));
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** NodeProcess keeps its child private; its pid is what /proc needs. */
function nodePid(n: NodeProcess): number | undefined {
  return (n as unknown as { child?: ChildProcess }).child?.pid;
}

/** Σ over the hosts of a numeric field, after − before. */
export function hostDelta(
  r: LoadRunResult,
  field: 'sent_real' | 'sent_drop_cover' | 'loops_sent' | 'drops_sent' | 'received_real' | 'loops_returned',
): number {
  return r.hostsAfter.reduce((a, h, i) => a + h[field] - r.hostsBefore[i]![field], 0);
}

/** Packets per second all clients put on the wire in the measured window: real, drop cover, loops, drops. */
export function clientsSentPerS(r: LoadRunResult): number {
  return (
    (hostDelta(r, 'sent_real') +
      hostDelta(r, 'sent_drop_cover') +
      hostDelta(r, 'loops_sent') +
      hostDelta(r, 'drops_sent')) /
    r.measuredS
  );
}
