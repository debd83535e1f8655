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
import { createTestnetFiles, freeTcpPort, testnetNodeSpecs, type TestnetShape } from './network.js';
import { DirectoryWatch, type ExclusionSeen } from './epochs.js';
import type { TestnetNode } from './network.js';
import { AuthorityProcess, createDirectoryTestnetFiles, type DirectoryTestnetFiles } from './authorities.js';
import { DirectoryFetcher } from '../directory/fetcher.js';
import { writeDocumentFile } from '../directory/follower.js';
import { epochAtMs } from '../directory/document.js';
import type { IsolationParams } from '../directory/schemas.js';
import { TopologyIndex } from '../topology/document.js';
import { writeClientConfigs } from './client-configs.js';
import { PrometheusServer, writeScrapeConfig } from './prometheus.js';
import { NetnsTestbed, type LinkMatrix } from './netns.js';
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
  /** Mean seconds between two messages of one client; undefined: for half the λP slots (DemoTraffic). */
  readonly messageIntervalS?: number;
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
  /** --netns: every node in its own network namespace, links shaped by this matrix (src/testnet/netns.ts). */
  readonly netns?: LinkMatrix;
  /** --prometheus: run a Prometheus server scraping every node (src/testnet/prometheus.ts). */
  readonly prometheus?: boolean;
  /** With prometheus: called with the running server after the final statistics, before shutdown (tests). */
  readonly onPrometheus?: (server: PrometheusServer) => Promise<void>;
  /**
   * With rotating keys (shape.epochLengthS): the directory authorities to start (default 3) and the
   * signatures a document needs (default a majority), the isolation parameters, the bootstrap time.
   */
  readonly authorities?: number;
  readonly threshold?: number;
  readonly isolation?: Partial<IsolationParams>;
  readonly bootstrapS?: number;
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
  /** Mean seconds between two messages of one demo client. */
  readonly message_interval_s: number;
  /**
   * Fraction of the clients' λP slots the demo messages and their acks fill (src/testnet/traffic.ts). At 1 or
   * more the send buffers grow for as long as the run lasts, and so does the end-to-end latency.
   */
  readonly offered_load: number;
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
  /** With rotating keys (--epoch-length): the epoch length, the first epoch, and the epochs whose document the authorities published. */
  readonly key_epochs?: { readonly length_s: number; readonly first: number; readonly published: readonly number[] };
  /** With rotating keys: the authorities and bad-server isolation (times: seconds since every node was up). */
  readonly directory?: IsolationSummary;
  readonly dir: string | null;
  /**
   * How the drain ended: everything back; nothing arrived for drainQuietS (after a failure); every message in
   * and no loop back for LOOP_RETURN_GRACE_S (the loops still out were dropped: see `dropped` and `loss`); or
   * the timeout.
   */
  readonly drain_end: 'complete' | 'quiet' | 'loops_quiet' | 'timeout' | 'interrupted';
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
  readonly delivery_after_restart: {
    readonly since_s: number;
    readonly sent: number;
    readonly delivered: number;
  } | null;
  /** Loops of all senders (nodes over the whole run, clients) per node on their paths, worst first. */
  readonly loop_paths: LoopPathReport;
  /** With --check-mixing: the live self-checks against the Loopix model (docs/anonymity.md "Live self-checks"). */
  readonly mixing?: MixingSummary | null;
  /** With --prometheus: targets up at the end, and each node's loopix_packets_forwarded_total as Prometheus saw it. */
  readonly prometheus?: {
    readonly targets: number;
    readonly targets_up: number;
    readonly forwarded: Readonly<Record<string, number>>;
  } | null;
  /** With --post-office: the clients' post office counters, summed. */
  readonly post_office?: {
    pushes: number;
    pool_deposits: number;
    answers_real: number;
    answers_dummy: number;
    pull_gaps: number;
  };
}

interface Fractions {
  /** Real messages delivered / sent (sent in the period). */
  readonly delivery_ratio: number | null;
  readonly messages: number;
  /** Loops (clients' and nodes') returned / sent in the period. */
  readonly loop_return_fraction: number | null;
  readonly loops: number;
}

export interface IsolationSummary {
  readonly authorities: number;
  readonly threshold: number;
  readonly isolation: IsolationParams;
  /** Nodes misbehaving on purpose (--misbehave), from the moment every node was up (t = 0). */
  readonly misbehaving: readonly string[];
  /** Links reported, by name, when the testnet first saw each report at an authority. */
  readonly reports: readonly {
    from: string;
    to: string;
    seen_s: number;
    epoch: number;
    due: number;
    returned: number;
  }[];
  /** Nodes excluded: the first epoch whose document excludes each, and when that epoch began. */
  readonly excluded: readonly { node: string; epoch: number; at_s: number }[];
  /** From misbehaviour start (t = 0) to the exclusion of the first misbehaving node; null if none was. */
  readonly time_to_exclusion_s: number | null;
  /** Before and after that exclusion (messages by send time; loops by counters at that moment). */
  readonly before: Fractions | null;
  readonly after: Fractions | null;
  /** Clients that stopped because their document expired, with the reason. */
  readonly clients_expired: readonly string[];
}

/**
 * Seconds the drain waits for loops after the cover streams stop, at least: with the defaults (5 holds of
 * Exp(µ = 2/s) and a 1-s pull interval) a loop's round trip exceeds 10 s with probability below 1e-3.
 */
const LOOP_RETURN_GRACE_S = 15;

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : null);

export async function runTestnet(o: TestnetOptions): Promise<TestnetSummary> {
  // Absolute: the node configs name their key and topology files relative to themselves (`--dir first-net`).
  const dir = o.dir !== undefined ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'loopix-testnet-'));
  const { backend } = loadSphinx();
  // With rotating keys every node needs one key per epoch of the run (plus the drain and one spare).
  const shape: TestnetShape =
    o.shape.epochLengthS !== undefined && o.shape.epochKeys === undefined
      ? {
          ...o.shape,
          epochKeys:
            o.durationS === undefined
              ? 144
              : Math.ceil((o.durationS + o.drainTimeoutS + 30 + (o.bootstrapS ?? 300) * 2) / o.shape.epochLengthS) + 2,
        }
      : o.shape;
  let netns: NetnsTestbed | undefined;
  try {
    netns = o.netns
      ? NetnsTestbed.create(
          testnetNodeSpecs(shape).map((n) => n.name),
          o.netns,
        )
      : undefined;
  } catch (err) {
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  if (netns)
    o.log(
      `testnet: ${netns.hosts.size} network namespaces on bridge ${netns.bridge} (${netns.clientsAddress}), links: ${netns.matrix.name}`,
    );
  try {
    return await runOnHosts(o, dir, shape, backend, netns);
  } finally {
    netns?.destroy();
  }
}

async function runOnHosts(
  o: TestnetOptions,
  dir: string,
  shape: TestnetShape,
  backend: ReturnType<typeof loadSphinx>['backend'],
  netns: NetnsTestbed | undefined,
): Promise<TestnetSummary> {
  const perNodeConfig = Object.fromEntries(
    Object.entries(o.misbehave ?? {}).map(([name, faults]) => [name, { faults }]),
  );
  const nodeConfig = {
    pipeline: { workers: o.workersPerNode, mode: o.pipelineMode ?? 'pool' },
    statsIntervalS: 1,
    log: { level: 'info' },
    ...(o.checkMixing ? MIXING_PROBE_NODE_CONFIG : {}),
  };
  // --netns: each node at its own address; the authorities and the demo clients on the bridge's (this host).
  const hosts = netns ? new Map([...netns.hosts.values()].map((h) => [h.name, h.address])) : undefined;
  // Rotating keys: the directory authorities publish every epoch's document (src/testnet/authorities.ts);
  // static keys: one signed file, the offline option.
  let staticIndex: TopologyIndex | undefined;
  let staticAuthorityKey: string | undefined;
  let dirFiles: DirectoryTestnetFiles | undefined;
  let nodeSpecs: readonly TestnetNode[];
  if (shape.epochLengthS !== undefined) {
    dirFiles = await createDirectoryTestnetFiles({
      dir,
      shape: {
        ...shape,
        epochLengthS: shape.epochLengthS,
        epochKeys: shape.epochKeys ?? 4,
        authorities: o.authorities ?? 3,
        threshold: o.threshold,
        isolation: o.isolation,
        bootstrapS: o.bootstrapS,
      },
      backend,
      params: o.params,
      perNodeConfig,
      nodeConfig,
      metrics: true,
      postOffice: o.postOffice === true,
      ...(hosts ? { hosts, authorityHost: netns!.clientsAddress } : {}),
    });
    nodeSpecs = dirFiles.nodes;
  } else {
    const files = await createTestnetFiles({
      dir,
      shape,
      backend,
      params: o.params,
      postOffice: o.postOffice === true,
      perNodeConfig,
      nodeConfig,
      metrics: true,
      ...(hosts ? { hosts } : {}),
    });
    staticIndex = files.index;
    staticAuthorityKey = files.authority.publicKey;
    nodeSpecs = files.nodes;
  }
  // Configs for clients outside this process (README "Send your first message"), announced once the network is up.
  const clientConfigs = writeClientConfigs(
    {
      dir,
      providers: nodeSpecs.filter((n) => n.role === 'provider').map((n) => n.entry),
      source: dirFiles
        ? { kind: 'directory', ...dirFiles.directory }
        : { kind: 'static', topologyFile: '../topology.json', authorityPublicKey: staticAuthorityKey! },
    },
    backend,
    o.params,
  );
  const scrapeConfig = writeScrapeConfig(
    dir,
    nodeSpecs.map((n) => ({ name: n.name, role: n.role, layer: n.entry.layer, address: n.metrics! })),
  );
  let prometheus: PrometheusServer | undefined;
  let prometheusSummary: TestnetSummary['prometheus'];
  const authorities = (dirFiles?.authorities ?? []).map((a) => new AuthorityProcess(a, dir));
  const nodes = nodeSpecs.map((n) => new NodeProcess(n, dir, netns?.exec(n.name)));
  let failures: FailureInjector;
  try {
    failures = new FailureInjector(o.failures ?? [], nodes, o.log); // checks the node names
  } catch (err) {
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let traffic: DemoTraffic | undefined;
  const makeTraffic = (topology: TopologyIndex) =>
    new DemoTraffic({
      clients: o.clients,
      messageIntervalS: o.messageIntervalS,
      params: o.params,
      backend,
      topology,
      dir,
      probeClient: o.checkMixing === true,
      postOffice: o.postOffice === true,
      ...(dirFiles ? { directory: dirFiles.directory, log: o.log } : {}),
    });
  if (staticIndex) traffic = makeTraffic(staticIndex);
  let nodesUpWall = Date.now();
  let atExclusion: { perf: number; clientLoops: [number, number]; nodeLoops: [number, number] } | undefined;
  const loopCounts = () => {
    const c = (traffic?.clients ?? []).map((x) => x.stats());
    const clientLoops: [number, number] = [
      c.reduce((a, s) => a + s.loops_sent, 0),
      c.reduce((a, s) => a + s.loops_returned, 0),
    ];
    const nodeLoops: [number, number] = [0, 0];
    for (const n of nodes) {
      for (const snap of n.snapshots()) {
        nodeLoops[0] += snap.counters.loops_sent ?? 0;
        nodeLoops[1] += snap.counters.loops_returned ?? 0;
      }
    }
    return { clientLoops, nodeLoops };
  };
  const misbehaving = new Set(Object.keys(o.misbehave ?? {}));
  const names0 = new Map(nodeSpecs.map((n) => [n.entry.id, n.name] as const));
  const watch = dirFiles
    ? new DirectoryWatch({
        authorities: dirFiles.directory.authorities,
        threshold: dirFiles.directory.threshold,
        epochLengthS: dirFiles.epochLengthS,
        genesisEpoch: dirFiles.firstEpoch,
        genesisMs: dirFiles.genesisMs,
        onExcluded: (e: ExclusionSeen) => {
          const name = names0.get(e.node) ?? e.node;
          o.log(
            `testnet: ${name} excluded from epoch ${e.epoch} on (${((e.fromMs - nodesUpWall) / 1000).toFixed(1)} s after every node was up)`,
          );
          if (atExclusion === undefined && misbehaving.has(name))
            atExclusion = { perf: performance.now() - (Date.now() - e.fromMs), ...loopCounts() };
        },
      })
    : undefined;
  let mixing: MixingCheck | null = null;
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
  const ticker = setInterval(
    () => traffic && table?.render((performance.now() - started) / 1000, phase, nodes, traffic),
    1000,
  );
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
    for (const a of authorities) a.start();
    try {
      await Promise.all(authorities.map((a) => a.ready));
    } catch (err) {
      await Promise.all(authorities.map((a) => a.stop()));
      throw new Error(`${(err as Error).message}; logs kept in ${dir}`);
    }
    if (authorities.length > 0)
      o.log(
        `testnet: ${authorities.length} directory authorities up (documents valid with ${dirFiles!.directory.threshold} of ${authorities.length} signatures)`,
      );
    for (const n of nodes) n.start();
    try {
      await Promise.all(nodes.map((n) => n.ready));
    } catch (err) {
      // One node failed to start: stop the others instead of leaving them orphaned, keep the logs.
      await Promise.all([...nodes.map((n) => n.stop()), ...authorities.map((a) => a.stop())]);
      throw new Error(`${(err as Error).message}; logs kept in ${dir}`);
    }
    nodesUpWall = Date.now();
    o.log(`testnet: ${nodes.length} node processes up in ${dir}`);
    if (dirFiles) {
      // The clients start from the current document like any client: fetched, k of n signatures checked.
      const fetcher = new DirectoryFetcher(dirFiles.directory);
      let index: TopologyIndex | undefined;
      for (let tries = 0; !index; tries++) {
        try {
          const epoch = Math.max(
            dirFiles.firstEpoch,
            epochAtMs(
              { epochLengthS: dirFiles.epochLengthS, genesisEpoch: dirFiles.firstEpoch, genesisMs: dirFiles.genesisMs },
              Date.now(),
            ),
          );
          const doc = await fetcher.document(epoch);
          index = new TopologyIndex(doc);
          // The ready-made client configs start from it too (their kept document; they follow the authorities).
          for (const c of clientConfigs) writeDocumentFile(join(dir, 'clients', `${c.name}.topology.json`), doc);
        } catch (err) {
          if (tries > 60 || interrupted) {
            await Promise.all([...nodes.map((n) => n.stop()), ...authorities.map((a) => a.stop())]);
            throw new Error(`no directory document for the clients: ${(err as Error).message}; logs kept in ${dir}`);
          }
          await sleep(500);
        }
      }
      traffic = makeTraffic(index);
      watch?.start();
    }
    if (!traffic) throw new Error('no traffic');
    o.log(
      `testnet: demo messages every ${traffic.messageIntervalS.toFixed(1)} s per client, ${traffic.slotsPerMessage.toFixed(1)} λP slots each with their acks: offered load ${traffic.offeredLoad.toFixed(2)} of the λP streams` +
        (traffic.offeredLoad >= 1 ? ' (≥ 1: the send buffers and the latency grow for as long as the run lasts)' : ''),
    );
    if (o.checkMixing)
      mixing = new MixingCheck(nodes, traffic, NetworkParamsSchema.parse(o.params), o.shape.layers, o.log);
    o.log(
      `testnet: client configs ready: ${clientConfigs.map((c) => c.configFile).join(', ')} (addresses in ${clientConfigs.map((c) => c.addressFile).join(', ')})`,
    );
    if (o.prometheus) {
      prometheus = await PrometheusServer.start({
        configFile: scrapeConfig,
        port: await freeTcpPort(),
        logFile: join(dir, 'prometheus.log'),
      });
      o.log(`testnet: prometheus at ${prometheus.url} scraping ${scrapeConfig}`);
    }
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
      const quietMs = (o.drainQuietS ?? 10) * 1000;
      // After a failure some messages and loops can never arrive: stop waiting once nothing arrives any more
      // (in step 1 loops keep coming, so only messages and acks count as progress there).
      const messageProgress = () =>
        traffic!.deliveredMessages + traffic!.clients.reduce((a, c) => a + c.stats().acks_received, 0);
      const arrivals = () =>
        traffic!.deliveredMessages + traffic!.clients.reduce((a, c) => a + c.stats().loops_returned, 0);
      let watch = failures.active ? new QuietWatch(messageProgress, quietMs) : null;
      const gaveUp = () => watch !== null && failures.settled && watch.quiet();
      // 1. The λP streams carry out what is still buffered, and the acks come back (they too travel in λP slots).
      await waitUntil(() => traffic!.drained || gaveUp(), o.drainTimeoutS);
      if (watch) watch = new QuietWatch(arrivals, quietMs);
      // 2. Stop the cover streams and wait for the loops still out; they need their round trip even when step 1
      // took the whole timeout.
      for (const c of traffic.clients) c.stopStreams();
      const remaining = Math.max(LOOP_RETURN_GRACE_S, o.drainTimeoutS - (performance.now() - drainStart) / 1000);
      const complete = () => traffic!.drained && traffic!.clients.every((c) => c.stats().loops_outstanding === 0);
      // A loop dropped on the way (AQM, a stalled node; counted by reason) never comes back: once nothing has
      // arrived for a round trip's worth of time, the loops still out are lost, not late.
      const loopsQuiet = new QuietWatch(arrivals, LOOP_RETURN_GRACE_S * 1000);
      await waitUntil(() => complete() || loopsQuiet.quiet() || gaveUp(), remaining);
      drained = complete();
      drainEnd = drained
        ? 'complete'
        : interrupted
          ? 'interrupted'
          : gaveUp()
            ? 'quiet'
            : traffic.drained && loopsQuiet.quiet()
              ? 'loops_quiet'
              : 'timeout';
    }
    drainS = (performance.now() - drainStart) / 1000;
    phase = 'final statistics';
    await Promise.all(nodes.filter((n) => n.running).map((n) => n.nextStats()));
    mixingSummary = mixing?.finish();
    if (prometheus) {
      prometheusSummary = await prometheusReport(prometheus).catch((err: unknown) => {
        o.log(`testnet: prometheus query failed: ${(err as Error).message}`);
        return null;
      });
      await o.onPrometheus?.(prometheus);
    }
  } finally {
    await prometheus?.stop();
    watch?.stop();
    await failures.stop();
    clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const tr = traffic; // set once the nodes were up; an earlier failure threw above
  const clientStats = tr.clients.map((c) => c.stats());
  const observations: LoopObservation[] = tr.clients.map((c) => ({
    sender: c.address,
    tally: c.loopPathCounts().total,
  }));
  const rtts = tr.clients.flatMap((c) => c.loopRttSamples()).sort((a, b) => a - b);
  await tr.stop();
  const exits: Record<string, number | null> = {};
  for (const n of nodes) exits[n.node.name] = await n.stop();
  for (const a of authorities) exits[a.authority.name] = await a.stop();
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
  const lost = tr.undelivered();
  const restartedAt = failures.allRestartedAt;
  const afterRestart = restartedAt === null ? null : { since_s: sinceSend(restartedAt), ...tr.sentSince(restartedAt) };
  const sum = (f: (s: (typeof clientStats)[number]) => number) => clientStats.reduce((a, s) => a + f(s), 0);
  const q = (p: number) => {
    const v = percentileOfSorted(rtts, p);
    return v === undefined ? null : Math.round(v * 10) / 10;
  };
  const lat = tr.latency();
  const isolationSummary = (): IsolationSummary => {
    const at = (ms: number) => Math.round((ms - nodesUpWall) / 100) / 10;
    const excluded = [...(watch?.exclusions.values() ?? [])].map((e) => ({
      node: names.get(e.node) ?? e.node,
      epoch: e.epoch,
      at_s: at(e.fromMs),
    }));
    const first = excluded.find((e) => misbehaving.has(e.node));
    let before: Fractions | null = null;
    let after: Fractions | null = null;
    if (atExclusion) {
      const end = {
        clientLoops: [sum((s) => s.loops_sent), sum((s) => s.loops_returned)] as const,
        nodeLoops: [mixLoopsSent, mixLoopsReturned] as const,
      };
      const a = tr.sentSince(atExclusion.perf);
      const bSent = tr.sentMessages - a.sent;
      const bDelivered = tr.deliveredMessages - a.delivered;
      const loopsBefore = atExclusion.clientLoops[0] + atExclusion.nodeLoops[0];
      const returnedBefore = atExclusion.clientLoops[1] + atExclusion.nodeLoops[1];
      const loopsAfter = end.clientLoops[0] + end.nodeLoops[0] - loopsBefore;
      const returnedAfter = end.clientLoops[1] + end.nodeLoops[1] - returnedBefore;
      before = {
        delivery_ratio: ratio(bDelivered, bSent),
        messages: bSent,
        loop_return_fraction: ratio(returnedBefore, loopsBefore),
        loops: loopsBefore,
      };
      after = {
        delivery_ratio: ratio(a.delivered, a.sent),
        messages: a.sent,
        loop_return_fraction: ratio(returnedAfter, loopsAfter),
        loops: loopsAfter,
      };
    }
    return {
      authorities: authorities.length,
      threshold: dirFiles!.directory.threshold,
      isolation: dirFiles!.isolation,
      misbehaving: [...misbehaving],
      reports: [...(watch?.reports.values() ?? [])].map((r) => ({
        from: names.get(r.from) ?? r.from,
        to: names.get(r.to) ?? r.to,
        seen_s: at(r.seenAtMs),
        epoch: r.epoch,
        due: r.due,
        returned: r.returned,
      })),
      excluded,
      time_to_exclusion_s: first ? first.at_s : null,
      before,
      after,
      clients_expired: [...tr.expired.values()],
    };
  };
  if (!o.keep && !o.dir) rmSync(dir, { recursive: true, force: true });
  return {
    nodes: nodes.length,
    clients: tr.clients.length,
    duration_s: Math.round(sendS * 10) / 10,
    drain_s: Math.round(drainS * 10) / 10,
    drained,
    interrupted,
    message_interval_s: Math.round(tr.messageIntervalS * 100) / 100,
    offered_load: Math.round(tr.offeredLoad * 1000) / 1000,
    sent_real: tr.sentMessages,
    delivered_real: tr.deliveredMessages,
    delivered_intact: tr.deliveredIntact,
    delivered_corrupt: tr.deliveredCorrupt,
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
    ...(dirFiles && watch
      ? {
          key_epochs: { length_s: dirFiles.epochLengthS, first: dirFiles.firstEpoch, published: [...watch.epochs] },
          directory: isolationSummary(),
        }
      : {}),
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
    ...(o.prometheus ? { prometheus: prometheusSummary ?? null } : {}),
    ...(o.postOffice
      ? {
          post_office: {
            pushes: sum((s) => s.po_pushes_sent),
            pool_deposits: sum((s) => s.po_pool_deposits),
            answers_real: sum((s) => s.po_answers_real),
            answers_dummy: sum((s) => s.po_answers_dummy),
            pull_gaps: sum((s) => s.po_pull_gaps),
          },
        }
      : {}),
  };
}

async function prometheusReport(server: PrometheusServer): Promise<NonNullable<TestnetSummary['prometheus']>> {
  const up = await server.query('up{job="loopix"}');
  const forwarded = await server.query('loopix_packets_forwarded_total');
  return {
    targets: up.length,
    targets_up: up.filter((r) => r.value[1] === '1').length,
    forwarded: Object.fromEntries(
      forwarded.map((r) => [r.metric.node ?? r.metric.instance ?? '?', Number(r.value[1])]),
    ),
  };
}
