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
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetworkParamsSchema, type NetworkParams } from '../config/schema.js';
import { loadSphinx } from '../sphinx/loader.js';
import { EpochPublisher } from './epochs.js';
import { createTestnetFiles, type TestnetShape } from './network.js';
import { writeClientConfigs } from './client-configs.js';
import type { FaultConfig } from '../node/faults.js';
import { FailureInjector, QuietWatch, type FailurePlan, type FailureRecord } from './failures.js';
import { loopPathReport, type LoopObservation, type LoopPathReport } from './loop-report.js';
import { NodeProcess } from './processes.js';
import { LiveTable } from './table.js';
import { DemoTraffic } from './traffic.js';
import { percentileOfSorted } from '../util/percentile.js';
import { MIXING_PROBE_NODE_CONFIG, MixingCheck } from './mixing-check.js';
import type { MixingSummary } from '../mixing/analysis.js';

export interface TestnetOptions {
  readonly shape: TestnetShape;
  readonly clients: number;
  /** Seconds of sending; undefined: until Ctrl-C. */
  readonly durationS?: number;
  readonly drainTimeoutS: number;
  readonly messageIntervalS: number;
  readonly params: Partial<NetworkParams>;
  readonly workersPerNode: number;
  /** Packet path of every node (node config pipeline.mode; default "pool"). */
  readonly pipelineMode?: 'pool' | 'sharded';
  /** Keep the network's directory (keys, configs, logs, inboxes) instead of deleting it. */
  readonly dir?: string;
  readonly keep: boolean;
  /** Nodes that misbehave on purpose, by name (src/node/faults.ts; `--misbehave`). */
  readonly misbehave?: Readonly<Record<string, FaultConfig>>;
  /** Nodes to SIGKILL (and restart) during sending (src/testnet/failures.ts). */
  readonly failures?: readonly FailurePlan[];
  /** With failures: the drain ends once nothing arrived for this long, s (default 10). */
  readonly drainQuietS?: number;
  /** --check-mixing: probe the nodes and client 0, and add `mixing` to the summary (src/mixing/). Needs durationS. */
  readonly checkMixing?: boolean;
  /** Post office mode: provider-0 is a post office, every demo client opens a mailbox and messages go there. */
  readonly postOffice?: boolean;
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
  /** With rotating keys (--epoch-length): the epoch length, the first epoch, and the epochs re-published. */
  readonly key_epochs?: { readonly length_s: number; readonly first: number; readonly published: readonly number[] };
  readonly dir: string | null;
  /** How the drain ended: everything back, nothing arrived for drainQuietS (after a failure), or the timeout. */
  readonly drain_end: 'complete' | 'quiet' | 'timeout' | 'interrupted';
  /** What never came back — counted, not hidden (times: seconds since sending started). */
  readonly loss: {
    readonly messages_lost: number;
    readonly lost_messages: readonly { from: number; to: number; bytes: number; sent_at_s: number }[];
    readonly client_loops_lost: number;
    /** Includes mix loops still in flight at shutdown (not waited for). */
    readonly mix_loops_not_returned: number;
  };
  /** Kills and restarts injected with --kill (empty without). */
  readonly failures: readonly FailureRecord[];
  /** Messages sent once every restarted node was up again, and how many of them arrived; null without a restart. */
  readonly delivery_after_restart: { readonly since_s: number; readonly sent: number; readonly delivered: number } | null;
  /** Loops of all senders (nodes over the whole run, clients) per node on their paths, worst first. */
  readonly loop_paths: LoopPathReport;
  /** With --check-mixing: the live self-checks against the Loopix model (docs/anonymity.md "Live self-checks"). */
  readonly mixing?: MixingSummary | null;
  /** With --post-office: the clients' post office counters, summed. */
  readonly post_office?: { pushes: number; pool_deposits: number; answers_real: number; answers_dummy: number; pull_gaps: number };
}


export async function runTestnet(o: TestnetOptions): Promise<TestnetSummary> {
  // Absolute: the node configs name their key and topology files relative to themselves (`--dir first-net`).
  const dir = o.dir !== undefined ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'loopix-testnet-'));
  const { backend } = loadSphinx();
  // With rotating keys every node needs one key per epoch of the run (plus the drain and one spare).
  const shape: TestnetShape =
    o.shape.epochLengthS !== undefined && o.shape.epochKeys === undefined
      ? { ...o.shape, epochKeys: o.durationS === undefined ? 144 : Math.ceil((o.durationS + o.drainTimeoutS + 30) / o.shape.epochLengthS) + 2 }
      : o.shape;
  const files = await createTestnetFiles({
    dir,
    shape,
    backend,
    params: o.params,
    postOffice: o.postOffice === true,
    perNodeConfig: Object.fromEntries(Object.entries(o.misbehave ?? {}).map(([name, faults]) => [name, { faults }])),
    nodeConfig: { pipeline: { workers: o.workersPerNode, mode: o.pipelineMode ?? 'pool' }, statsIntervalS: 1, log: { level: 'info' }, ...(o.checkMixing ? MIXING_PROBE_NODE_CONFIG : {}) },
  });
  // Configs for clients outside this process (README "Send your first message"), announced once the network is up.
  const clientConfigs = writeClientConfigs(files, backend, o.params);
  const nodes = files.nodes.map((n) => new NodeProcess(n, dir));
  let failures: FailureInjector;
  try {
    failures = new FailureInjector(o.failures ?? [], nodes, o.log); // checks the node names
  } catch (err) {
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const traffic = new DemoTraffic({ clients: o.clients, messageIntervalS: o.messageIntervalS, params: o.params, backend, topology: files.index, dir, probeClient: o.checkMixing === true, postOffice: o.postOffice === true });
  // Rotating keys: this process is the directory authority (src/testnet/epochs.ts).
  const publisher = files.epochPublicKeys ? new EpochPublisher(files, (index) => traffic.clients.forEach((c) => c.setTopology(index)), o.log) : undefined;
  publisher?.start();
  const mixing = o.checkMixing ? new MixingCheck(nodes, traffic, NetworkParamsSchema.parse(o.params), o.shape.layers, o.log) : null;
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
  let drainEnd: TestnetSummary['drain_end'] = 'interrupted';
  let mixingSummary: MixingSummary | null | undefined;
  let sendStart = performance.now();
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
    o.log(`testnet: client configs ready: ${clientConfigs.map((c) => c.configFile).join(', ')} (addresses in ${clientConfigs.map((c) => c.addressFile).join(', ')})`);
    phase = 'connecting';
    await traffic.start();
    phase = 'sending';
    traffic.startSending();
    sendStart = performance.now();
    failures.start(sendStart);
    if (o.durationS !== undefined) mixing?.start(sendStart, o.durationS);
    await waitUntil(() => false, o.durationS ?? Infinity);
    sendS = (performance.now() - sendStart) / 1000;
    traffic.stopSending();
    mixing?.stopSending();
    phase = 'draining';
    const drainStart = performance.now();
    if (!interrupted) {
      // 1. Let the λP streams carry out what is still buffered, 2. stop the cover streams, 3. wait for arrivals.
      await waitUntil(() => traffic.clients.every((c) => c.stats().send_buffer === 0), o.drainTimeoutS);
      for (const c of traffic.clients) c.stopStreams();
      const remaining = Math.max(1, o.drainTimeoutS - (performance.now() - drainStart) / 1000);
      const complete = () => traffic.drained && traffic.clients.every((c) => c.stats().loops_outstanding === 0);
      // After a failure some messages and loops can never arrive: stop waiting once nothing arrives any more.
      const watch = failures.active
        ? new QuietWatch(() => traffic.deliveredMessages + traffic.clients.reduce((a, c) => a + c.stats().loops_returned, 0), (o.drainQuietS ?? 10) * 1000)
        : null;
      drained = await waitUntil(() => complete() || (watch !== null && failures.settled && watch.quiet()), remaining);
      drained = complete();
      drainEnd = drained ? 'complete' : interrupted ? 'interrupted' : watch?.quiet() ? 'quiet' : 'timeout';
    }
    drainS = (performance.now() - drainStart) / 1000;
    phase = 'final statistics';
    await Promise.all(nodes.filter((n) => n.running).map((n) => n.nextStats()));
    mixingSummary = mixing?.finish();
  } finally {
    publisher?.stop();
    await failures.stop();
    clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const clientStats = traffic.clients.map((c) => c.stats());
  const observations: LoopObservation[] = traffic.clients.map((c) => ({ sender: c.address, tally: c.loopPathCounts().total }));
  const rtts = traffic.clients.flatMap((c) => c.loopRttSamples()).sort((a, b) => a - b);
  await traffic.stop();
  const exits: Record<string, number | null> = {};
  for (const n of nodes) exits[n.node.name] = await n.stop();
  const dropped: Record<string, number> = {};
  let mixLoopsSent = 0;
  let mixLoopsReturned = 0;
  // Every incarnation of a node counts (a restarted node's counters start from zero).
  for (const n of nodes) {
    for (const s of n.snapshots()) {
      for (const [reason, count] of Object.entries(s.dropped)) dropped[reason] = (dropped[reason] ?? 0) + count;
      mixLoopsSent += s.counters.loops_sent ?? 0;
      mixLoopsReturned += s.counters.loops_returned ?? 0;
      if (s.loop_paths) observations.push({ sender: n.node.entry.id, tally: s.loop_paths.total });
    }
  }
  const names = new Map(nodes.map((n) => [n.node.entry.id, n.node.name] as const));
  const sinceSend = (t: number) => Math.round((t - sendStart) / 100) / 10;
  const lost = traffic.undelivered();
  const restartedAt = failures.allRestartedAt;
  const afterRestart = restartedAt === null ? null : { since_s: sinceSend(restartedAt), ...traffic.sentSince(restartedAt) };
  const sum = (f: (s: (typeof clientStats)[number]) => number) => clientStats.reduce((a, s) => a + f(s), 0);
  const q = (p: number) => { const v = percentileOfSorted(rtts, p); return v === undefined ? null : Math.round(v * 10) / 10; };
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
    ...(publisher ? { key_epochs: { length_s: files.topology.epochLengthS!, first: files.topology.epoch, published: publisher.history } } : {}),
    dir: o.keep || o.dir ? dir : null,
    drain_end: drainEnd,
    loss: {
      messages_lost: lost.length,
      lost_messages: lost.map((m) => ({ from: m.from, to: m.to, bytes: m.bytes, sent_at_s: sinceSend(m.sentAt) })),
      client_loops_lost: sum((s) => s.loops_sent - s.loops_returned),
      mix_loops_not_returned: mixLoopsSent - mixLoopsReturned,
    },
    failures: failures.report(),
    delivery_after_restart: afterRestart,
    loop_paths: loopPathReport(observations, names),
    ...(mixing ? { mixing: mixingSummary ?? null } : {}),
    ...(o.postOffice
      ? { post_office: { pushes: sum((s) => s.po_pushes_sent), pool_deposits: sum((s) => s.po_pool_deposits), answers_real: sum((s) => s.po_answers_real), answers_dummy: sum((s) => s.po_answers_dummy), pull_gaps: sum((s) => s.po_pull_gaps) } }
      : {}),
  };
}
