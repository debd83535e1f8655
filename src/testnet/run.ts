/**
 * `loopix testnet`: a whole Loopix network on loopback — providers and stratified mixes, each its own process
 * — with demo clients exchanging messages and a live table, then (with --duration) a drain and a JSON
 * summary. The summary is the testnet contract of issue 3: every real message arrives intact and ≥ 99 % of
 * loops return on loopback with default settings.
 *
 * Phases: start nodes → connect clients → send for `durationS` → stop new messages, let the send buffers
 * empty → stop the cover streams → drain (until every message and loop is back, or `drainTimeoutS`) → final
 * statistics → shut down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkParams } from '../config/schema.js';
import { loadSphinx } from '../sphinx/loader.js';
import { createTestnetFiles, type TestnetShape } from './network.js';
import { NodeProcess } from './processes.js';
import { LiveTable } from './table.js';
import { DemoTraffic } from './traffic.js';

export interface TestnetOptions {
  readonly shape: TestnetShape;
  readonly clients: number;
  /** Seconds of sending; undefined: until Ctrl-C. */
  readonly durationS?: number;
  readonly drainTimeoutS: number;
  readonly messageIntervalS: number;
  readonly params: Partial<NetworkParams>;
  readonly workersPerNode: number;
  /** Keep the network's directory (keys, configs, logs, inboxes) instead of deleting it. */
  readonly dir?: string;
  readonly keep: boolean;
  /** Where the live table goes; null for none. */
  readonly table: NodeJS.WriteStream | null;
  readonly log: (line: string) => void;
}

export interface TestnetSummary {
  readonly nodes: number;
  readonly clients: number;
  readonly duration_s: number;
  readonly drain_s: number;
  readonly drained: boolean;
  /** Stopped by Ctrl-C/SIGTERM: no drain, so undelivered messages are expected. */
  readonly interrupted: boolean;
  readonly sent_real: number;
  readonly delivered_real: number;
  readonly delivered_intact: number;
  readonly delivered_corrupt: number;
  readonly real_fragments_sent: number;
  readonly loops_sent: number;
  readonly loops_returned: number;
  readonly drops_sent: number;
  readonly mix_loops_sent: number;
  readonly mix_loops_returned: number;
  readonly dropped: Record<string, number>;
  readonly e2e_latency_ms: { p50: number | null; p99: number | null; mean: number | null };
  readonly loop_rtt_ms: { p50: number | null; p99: number | null };
  readonly node_exits: Record<string, number | null>;
  readonly dir: string | null;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runTestnet(o: TestnetOptions): Promise<TestnetSummary> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'loopix-testnet-'));
  const { backend } = loadSphinx();
  const files = await createTestnetFiles({
    dir,
    shape: o.shape,
    backend,
    params: o.params,
    nodeConfig: { pipeline: { workers: o.workersPerNode }, statsIntervalS: 1, log: { level: 'info' } },
  });
  const nodes = files.nodes.map((n) => new NodeProcess(n, dir));
  const traffic = new DemoTraffic({ clients: o.clients, messageIntervalS: o.messageIntervalS, params: o.params, backend, topology: files.index, dir });
  const table = o.table ? new LiveTable(o.table, o.table.isTTY === true) : null;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) {
      o.log('testnet: second interrupt, killing the nodes');
      for (const n of nodes) void n.kill();
      process.exit(130);
    }
    interrupted = true;
    o.log('testnet: interrupted, shutting down (Ctrl-C again to force)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = performance.now();
  let phase = 'starting';
  const ticker = setInterval(() => table?.render((performance.now() - started) / 1000, phase, nodes, traffic), 1000);
  const waitUntil = async (done: () => boolean, timeoutS: number) => {
    const deadline = performance.now() + timeoutS * 1000;
    while (!done() && !interrupted && performance.now() < deadline) await sleep(100);
    return done();
  };
  let sendS = 0;
  let drainS = 0;
  let drained = false;
  try {
    for (const n of nodes) n.start();
    try {
      await Promise.all(nodes.map((n) => n.ready));
    } catch (err) {
      // One node failed to start: stop the others instead of leaving them orphaned, keep the logs.
      await Promise.all(nodes.map((n) => n.stop()));
      throw new Error(`${(err as Error).message}; logs kept in ${dir}`);
    }
    o.log(`testnet: ${nodes.length} node processes up in ${dir}`);
    phase = 'connecting';
    await traffic.start();
    phase = 'sending';
    traffic.startSending();
    const sendStart = performance.now();
    await waitUntil(() => false, o.durationS ?? Infinity);
    sendS = (performance.now() - sendStart) / 1000;
    traffic.stopSending();
    phase = 'draining';
    const drainStart = performance.now();
    if (!interrupted) {
      // 1. Let the λP streams carry out what is still buffered, 2. stop the cover streams, 3. wait for arrivals.
      await waitUntil(() => traffic.clients.every((c) => c.stats().send_buffer === 0), o.drainTimeoutS);
      for (const c of traffic.clients) c.stopStreams();
      const remaining = Math.max(1, o.drainTimeoutS - (performance.now() - drainStart) / 1000);
      drained = await waitUntil(() => traffic.drained && traffic.clients.every((c) => c.stats().loops_outstanding === 0), remaining);
    }
    drainS = (performance.now() - drainStart) / 1000;
    phase = 'final statistics';
    await Promise.all(nodes.filter((n) => n.running).map((n) => n.nextStats()));
  } finally {
    clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const clientStats = traffic.clients.map((c) => c.stats());
  const rtts = traffic.clients.flatMap((c) => c.loopRttSamples()).sort((a, b) => a - b);
  await traffic.stop();
  const exits: Record<string, number | null> = {};
  for (const n of nodes) exits[n.node.name] = await n.stop();
  const dropped: Record<string, number> = {};
  let mixLoopsSent = 0;
  let mixLoopsReturned = 0;
  for (const n of nodes) {
    for (const [reason, count] of Object.entries(n.last?.dropped ?? {})) dropped[reason] = (dropped[reason] ?? 0) + count;
    mixLoopsSent += n.last?.counters.loops_sent ?? 0;
    mixLoopsReturned += n.last?.counters.loops_returned ?? 0;
  }
  const sum = (f: (s: (typeof clientStats)[number]) => number) => clientStats.reduce((a, s) => a + f(s), 0);
  const q = (p: number) => (rtts.length ? Math.round(rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))]! * 10) / 10 : null);
  const lat = traffic.latency();
  if (!o.keep && !o.dir) rmSync(dir, { recursive: true, force: true });
  return {
    nodes: nodes.length,
    clients: traffic.clients.length,
    duration_s: Math.round(sendS * 10) / 10,
    drain_s: Math.round(drainS * 10) / 10,
    drained,
    interrupted,
    sent_real: traffic.sentMessages,
    delivered_real: traffic.deliveredMessages,
    delivered_intact: traffic.deliveredIntact,
    delivered_corrupt: traffic.deliveredCorrupt,
    real_fragments_sent: sum((s) => s.sent_real),
    loops_sent: sum((s) => s.loops_sent),
    loops_returned: sum((s) => s.loops_returned),
    drops_sent: sum((s) => s.drops_sent + s.sent_drop_cover),
    mix_loops_sent: mixLoopsSent,
    mix_loops_returned: mixLoopsReturned,
    dropped,
    e2e_latency_ms: { p50: lat.p50, p99: lat.p99, mean: lat.mean },
    loop_rtt_ms: { p50: q(0.5), p99: q(0.99) },
    node_exits: exits,
    dir: o.keep || o.dir ? dir : null,
  };
}
