/**
 * The relay rig shared by `bench relay`, `bench overload` and `bench gate`: one mix node as its own process
 * (`loopix mix --config …`, exactly what an operator runs), fed by src/bench/load-generator.ts and drained by
 * src/bench/sink.ts — three processes, so the node's CPU time is its own and can be read from /proc.
 *
 * The network is a one-layer topology: providers P0 (layer 0, its UDP address is the sink) and P1 (layer 0,
 * the generator's address and link identity: node ↔ node links are authenticated, src/node/link) and the mix
 * M1 (layer 1). Every pool packet is a one-hop Sphinx packet "M1: RELAY to P0, delay 0" in the default geometry
 * (6-hop header, 1,314 bytes), so M1 does exactly the work of a relay hop: one full unwrap (two X25519, the
 * header MAC, the LIONESS payload layer), the replay check, the routing decision and the send.
 *
 * The generator cycles through a pool of `poolSize` distinct packets; the node's Bloom replay filter is sized
 * for `poolSize / 16` tags and, with the benchmark-only `replay.unsafeResetWhenFull`, emptied whenever it is
 * full (counted as `replay_resets`), so a packet comes back only after a reset — at least poolSize / 16 accepted
 * packets lie between two sightings even when the node accepts only a sixteenth of the offered load (2×
 * overload with the AQM dropping 90 %) — and the filter's per-packet work (k probes + the log is off) is still
 * done. Nothing else about the node is
 * configured away: default batching, AQM, socket buffers and stats reporting.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeSnapshot } from '../node/pipeline.js';
import { loopixBin } from '../paths.js';
import { BENCH_NODE_ENV } from '../node/bench-slowdown.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { Command } from '../sphinx/types.js';
import { deriveLinkKey } from '../node/link/keys.js';
import { REPLAY_BURST_S } from '../node/replay-capacity.js';
import { createTestnetFiles, type TestnetFiles } from '../testnet/network.js';
import type { RunReport } from './load-generator.js';
import { histDiff, histSummary } from './stats.js';
import type { SinkCount } from './sink.js';
import { benchScript, request as ipcRequest } from './ipc.js';
import { RemoteChild } from './agent.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** A request to a rig child (generator or sink, local or on an agent). */
function request<T>(child: ChildProcess | RemoteChild, msg: object, reply: string, timeoutMs = 120_000): Promise<T> {
  return ipcRequest<T>(child, msg, reply, { timeoutMs });
}

/**
 * The packet path the benchmarks measure unless told otherwise: the sharded path where it exists (Linux:
 * SO_REUSEPORT, recvmmsg, sendmmsg), since it is the design that scales with cores; the pool path elsewhere.
 */
export type BenchPipeline = 'pool' | 'sharded';
export const DEFAULT_BENCH_PIPELINE: BenchPipeline = process.platform === 'linux' ? 'sharded' : 'pool';

export interface RigOptions {
  /** Crypto workers of the node under test (pipeline.workers). */
  readonly workers: number;
  /** Distinct pre-built packets the generator cycles through. */
  readonly poolSize: number;
  /** Extra `pipeline` config for the node (merged over the defaults). */
  readonly pipeline?: Record<string, unknown>;
  /** Seconds between the node's stats reports. */
  readonly statsIntervalS?: number;
  readonly log: (line: string) => void;
  /** Extra Node.js flags for the node process (e.g. --cpu-prof for profiling). */
  readonly nodeExecArgv?: readonly string[];
  /**
   * Across hosts (docs/benchmarks.md "On cloud hosts"): the node's UDP address (`target`, on this host, where
   * the generator sends), the sink's UDP address (`listen`, on the sink's host) and the `loopix bench agent`
   * control addresses that run the generator and the sink there. Absent: all three on this host, loopback.
   */
  readonly remote?: {
    readonly target?: { readonly host: string; readonly port: number };
    readonly listen?: { readonly host: string; readonly port: number };
    readonly generatorAgent?: { readonly host: string; readonly port: number };
    readonly sinkAgent?: { readonly host: string; readonly port: number };
  };
}

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface StepResult {
  /** Offered rate asked of the generator, packets/s. */
  readonly offered: number;
  /** Rate the generator achieved, packets/s. */
  readonly sentRate: number;
  readonly sent: number;
  /** Pool packets that reached the sink. */
  readonly forwarded: number;
  /** forwarded ÷ send duration, packets/s. */
  readonly forwardedRate: number;
  /** 1 − forwarded ÷ sent. */
  readonly loss: number;
  readonly durationS: number;
  /** Node process CPU (all threads, user + system) ÷ wall time during the step. */
  readonly nodeCpuCores: number;
  readonly generatorCpuCores: number;
  readonly sinkCpuCores: number;
  /** Drops the node counted during the step, by reason (incl. the kernel's receive-buffer drops). */
  readonly nodeDrops: Record<string, number>;
  /** Generator send → sink arrival, ms, when recorded. */
  readonly latency: LatencySummary | null;
  /** The node's own arrival → departure (minus header delay) histogram over this step, ms. */
  readonly nodeLatency: ReturnType<typeof histSummary>;
  /**
   * The node's main-thread CPU time (process.cpuUsage of that thread: the stats gauge main_thread_cpu_us)
   * per packet it forwarded during the step, µs; null when the node does not report it.
   */
  readonly mainCpuUsPerPacket: number | null;
}

/** User + system CPU time of a process (all its threads), ms; null when /proc is not there. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (clock ticks; Linux's USER_HZ is 100)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Resident set size of a process, MB; null when /proc is not there. */
export function processRssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function summarize(values: Float64Array | number[]): LatencySummary {
  const s = Float64Array.from(values).sort();
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0);
  let sum = 0;
  for (const v of s) sum += v;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return {
    count: s.length,
    mean: r(s.length ? sum / s.length : 0),
    p50: r(q(0.5)),
    p90: r(q(0.9)),
    p99: r(q(0.99)),
    max: r(s.length ? s[s.length - 1]! : 0),
  };
}

/**
 * Pairs each arrival (pool index, time) with the latest send of that pool packet at or before it: the
 * packet's generator → sink latency, ms. Sends of one pool packet are poolSize packets apart (≥ 1 s at any
 * rate this rig reaches), far longer than any latency measured, so the pairing is unambiguous.
 */
export function pairLatencies(
  report: RunReport,
  poolSize: number,
  index: Int32Array,
  arrivals: Float64Array,
): Float64Array {
  const times = report.times!;
  const out = new Float64Array(index.length);
  let n = 0;
  const base = report.firstSeq % poolSize;
  for (let j = 0; j < index.length; j++) {
    const k0 = (index[j]! - base + poolSize) % poolSize;
    if (k0 >= report.sent) continue;
    let k = k0 + Math.floor((report.sent - 1 - k0) / poolSize) * poolSize;
    while (k >= 0 && times[k]! > arrivals[j]!) k -= poolSize;
    if (k < 0) continue;
    out[n++] = arrivals[j]! - times[k]!;
  }
  return out.subarray(0, n);
}

export class RelayRig {
  readonly dir: string;
  private node!: ChildProcess;
  private gen!: ChildProcess | RemoteChild;
  private sink!: ChildProcess | RemoteChild;
  private logFd: number | undefined;
  private lastStats: NodeSnapshot | undefined;
  private statsWaiters: ((s: NodeSnapshot) => void)[] = [];
  private readonly statsListeners = new Set<(s: NodeSnapshot, atMs: number) => void>();
  private files!: TestnetFiles;
  readonly packetBytes: number;

  private constructor(readonly o: RigOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'loopix-bench-relay-'));
    this.packetBytes = 0;
  }

  get nodePid(): number {
    return this.node.pid!;
  }

  static async start(o: RigOptions): Promise<RelayRig> {
    const rig = new RelayRig(o);
    try {
      await rig.boot();
    } catch (err) {
      await rig.close();
      throw err;
    }
    return rig;
  }

  private async boot(): Promise<void> {
    const o = this.o;
    const backend = loadNativeBackend();
    // The generator cycles a fixed pool: the filter holds a sixteenth of it and is emptied when full
    // (benchmark-only replay.unsafeResetWhenFull), so each pooled packet is fresh again when it comes round.
    // Capacity = maxRatePps × (staticWindowS + REPLAY_BURST_S) = a sixteenth of the pool (no rate budget with
    // unsafeResetWhenFull: src/node/epochs.ts).
    const replay = {
      persist: false,
      maxRatePps: Math.max(1024, Math.floor(o.poolSize / 16)) / (1 + REPLAY_BURST_S),
      staticWindowS: 1,
      unsafeResetWhenFull: true,
    };
    const remote = o.remote ?? {};
    this.files = await createTestnetFiles({
      // Across hosts: the node at --target, the sink (P0) at --listen, the generator (P1) on its agent's host at
      // the agent's port + 1 (the link layer accepts the mix's traffic only from P1's published address).
      udp: {
        ...(remote.target ? { 'mix-1.0': remote.target } : {}),
        ...(remote.listen ? { 'provider-0': remote.listen } : {}),
        ...(remote.generatorAgent
          ? { 'provider-1': { host: remote.generatorAgent.host, port: remote.generatorAgent.port + 1 } }
          : {}),
      },
      dir: this.dir,
      shape: { layers: 1, perLayer: 1, providers: 2, epoch: 1 },
      backend,
      // λM small: the node's own loops would only be noise at the sink (they are counted as "unknown").
      params: { lambdaM: 0.01 },
      nodeConfig: {
        pipeline: { workers: o.workers, ...o.pipeline },
        replay,
        statsIntervalS: o.statsIntervalS ?? 0.5,
        log: { level: 'warn' },
      },
    });
    const mix = this.files.nodes.find((n) => n.role === 'mix')!;
    const provider = this.files.nodes.find((n) => n.name === 'provider-0')!;
    const generator = this.files.nodes.find((n) => n.name === 'provider-1')!;
    const g = this.files.index.geometry;
    // Link keys of the two links the rig plays a node on: generator (P1) → M1 and M1 → sink (P0).
    const skOf = (file: string) =>
      Uint8Array.from(
        Buffer.from((JSON.parse(readFileSync(file, 'utf8')) as { privateKey: string }).privateKey, 'hex'),
      );
    const idOf = (n: { entry: { id: string } }) => Uint8Array.from(Buffer.from(n.entry.id, 'hex'));
    const mixPub = Uint8Array.from(Buffer.from(mix.entry.publicKey, 'hex'));
    const epoch = this.files.topology.epoch;
    const x = (a: Uint8Array, b: Uint8Array) => backend.x25519(a, b);
    const genLinkKey = Buffer.from(
      deriveLinkKey(x, skOf(generator.keyFile), mixPub, epoch, idOf(generator), idOf(mix))!,
    ).toString('hex');
    const sinkLinkKey = Buffer.from(
      deriveLinkKey(x, skOf(provider.keyFile), mixPub, epoch, idOf(mix), idOf(provider))!,
    ).toString('hex');
    (this as { packetBytes: number }).packetBytes = g.packetBytes;

    // 1. The packet pool and, by unwrapping each once with the mix's key, the fingerprints of what leaves M1.
    const t0 = performance.now();
    const mixKey = JSON.parse(readFileSync(mix.keyFile, 'utf8')) as { privateKey: string };
    const sk = Uint8Array.from(Buffer.from(mixKey.privateKey, 'hex'));
    const hop = {
      publicKey: Buffer.from(mix.entry.publicKey, 'hex'),
      command: Command.RELAY,
      address: Buffer.from(provider.entry.id, 'hex'),
      delayUs: 0,
    };
    const content = new Uint8Array(g.contentBytes);
    const pool = Buffer.alloc(o.poolSize * g.packetBytes);
    const fingerprints = Buffer.alloc(o.poolSize * 8);
    const fpOffset = g.offsets.alpha;
    const work = new Uint8Array(g.packetBytes);
    for (let i = 0; i < o.poolSize; i++) {
      const p = backend.createPacket(g, { epoch: this.files.topology.epoch & 0xffff, hops: [hop], content });
      pool.set(p, i * g.packetBytes);
      work.set(p);
      const r = backend.unwrap(g, sk, work);
      if (r.kind !== 'relay') throw new Error(`pool packet ${i} did not unwrap to a relay (${r.kind})`);
      fingerprints.set(work.subarray(fpOffset, fpOffset + 6), i * 8);
    }
    const poolFile = join(this.dir, 'pool.bin');
    const fpFile = join(this.dir, 'fingerprints.bin');
    writeFileSync(poolFile, pool);
    writeFileSync(fpFile, fingerprints);
    o.log(
      `rig: ${o.poolSize} packets built and fingerprinted in ${((performance.now() - t0) / 1000).toFixed(1)} s (${this.dir})`,
    );

    // 2. Sink on P0's address, then the node, then the generator aimed at the node.
    const forkOpts = {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[],
      serialization: 'advanced' as const,
    };
    this.sink = remote.sinkAgent
      ? await RemoteChild.connect(remote.sinkAgent, 'sink', { 'fingerprints.bin': fingerprints })
      : fork(benchScript('sink'), [], forkOpts);
    await request(
      this.sink,
      {
        type: 'init',
        host: provider.entry.udp.host,
        port: provider.entry.udp.port,
        rcvbuf: 8 << 20,
        fingerprintFile: remote.sinkAgent ? 'fingerprints.bin' : fpFile,
        fingerprintOffset: fpOffset,
        linkKey: sinkLinkKey,
        packetBytes: g.packetBytes,
        linkHeaderBytes: g.linkHeaderBytes,
      },
      'ready',
    );

    this.logFd = openSync(join(this.dir, 'mix.log'), 'a');
    this.node = fork(loopixBin(), ['mix', '--config', mix.configFile], {
      stdio: ['ignore', this.logFd, this.logFd, 'ipc'],
      execArgv: [...process.execArgv, ...(o.nodeExecArgv ?? [])],
      // Only the benchmark's node may be slowed on purpose (src/node/bench-slowdown.ts): it alone gets the
      // marker that makes it honour LOOPIX_BENCH_INJECT_SLOWDOWN.
      env: { ...process.env, [BENCH_NODE_ENV]: '1' },
    });
    this.node.on('message', (m: { type?: string; stats?: NodeSnapshot }) => {
      if (m?.type === 'stats' && m.stats) {
        this.lastStats = m.stats;
        for (const w of this.statsWaiters.splice(0)) w(m.stats);
        const at = performance.now();
        for (const l of this.statsListeners) l(m.stats, at);
      }
    });
    const exited = new Promise<never>((_, reject) =>
      this.node.once('exit', (code) => reject(new Error(`mix exited with code ${code}: ${this.logTail()}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([this.nextStats(30_000), exited]);

    this.gen = remote.generatorAgent
      ? await RemoteChild.connect(remote.generatorAgent, 'load-generator', { 'pool.bin': pool })
      : fork(benchScript('load-generator'), [], forkOpts);
    await request(
      this.gen,
      {
        type: 'init',
        poolFile: remote.generatorAgent ? 'pool.bin' : poolFile,
        packetBytes: g.packetBytes,
        host: mix.entry.udp.host,
        port: mix.entry.udp.port,
        sndbuf: 8 << 20,
        bindPort: generator.entry.udp.port,
        bindHost: generator.entry.udp.host,
        linkKey: genLinkKey,
        linkEpoch: epoch,
      },
      'ready',
    );
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.dir, 'mix.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
    } catch {
      return '(no log)';
    }
  }

  /** The node's next stats report (or the last one after `timeoutMs`). */
  nextStats(timeoutMs = 5000): Promise<NodeSnapshot> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => (this.lastStats ? resolve(this.lastStats) : reject(new Error('the mix sent no stats'))),
        timeoutMs,
      );
      this.statsWaiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  /** Calls `listener` with every stats report (and performance.now() at its arrival); returns an unsubscribe. */
  onStats(listener: (s: NodeSnapshot, atMs: number) => void): () => void {
    this.statsListeners.add(listener);
    return () => this.statsListeners.delete(listener);
  }

  get stats(): NodeSnapshot | undefined {
    return this.lastStats;
  }

  sinkCount(): Promise<SinkCount> {
    return request<SinkCount>(this.sink, { type: 'count' }, 'count');
  }

  /** Waits until the sink has seen nothing new for `quietMs` (at most `maxMs`). */
  async drain(quietMs = 200, maxMs = 5000): Promise<SinkCount> {
    const deadline = performance.now() + maxMs;
    let last = await this.sinkCount();
    let stableSince = performance.now();
    while (performance.now() < deadline) {
      await sleep(50);
      const c = await this.sinkCount();
      if (c.received !== last.received) {
        last = c;
        stableSince = performance.now();
      } else if (performance.now() - stableSince >= quietMs) break;
    }
    return last;
  }

  /** Runs the generator at `rate` for `durationMs` and measures what came out. */
  async step(
    rate: number,
    durationMs: number,
    record: boolean,
    onRunning?: () => void,
  ): Promise<StepResult & { report: RunReport }> {
    const before = await this.drain(150, 3000);
    const stats0 = await this.nextStats();
    if (record) await request(this.sink, { type: 'record', on: true }, 'recording');
    const cpu0 = processCpuMs(this.node.pid!);
    const run = request<RunReport>(this.gen, { type: 'run', rate, durationMs, record }, 'done', durationMs + 60_000);
    onRunning?.();
    const report = await run;
    const cpu1 = processCpuMs(this.node.pid!);
    const after = await this.drain(200, 5000);
    const sinkCpuMs = after.cpuMs - before.cpuMs;
    let latency: LatencySummary | null = null;
    if (record) {
      await request(this.sink, { type: 'record', on: false }, 'recording');
      const taken = await request<{ index: Int32Array; times: Float64Array }>(this.sink, { type: 'take' }, 'taken');
      latency = summarize(pairLatencies(report, this.o.poolSize, taken.index, taken.times));
    }
    const stats1 = await this.nextStats();
    const wallS = (report.endMs - report.startMs) / 1000;
    const forwarded = after.matched - before.matched;
    const nodeDrops: Record<string, number> = {};
    for (const [k, v] of Object.entries(stats1.dropped)) {
      const d = v - (stats0.dropped[k] ?? 0);
      if (d > 0) nodeDrops[k] = d;
    }
    const kd = (stats1.gauges.udp_kernel_drops as number | null) ?? 0;
    const kd0 = (stats0.gauges.udp_kernel_drops as number | null) ?? 0;
    if (kd - kd0 > 0) nodeDrops.udp_kernel = kd - kd0;
    const r3 = (v: number) => Math.round(v * 1000) / 1000;
    const main0 = stats0.gauges.main_thread_cpu_us;
    const main1 = stats1.gauges.main_thread_cpu_us;
    const fwd = (stats1.counters.forwarded ?? 0) - (stats0.counters.forwarded ?? 0);
    const mainCpuUsPerPacket =
      typeof main0 === 'number' && typeof main1 === 'number' && fwd > 0 ? r3((main1 - main0) / fwd) : null;
    return {
      mainCpuUsPerPacket,
      offered: rate,
      sentRate: Math.round(report.rate),
      sent: report.sent,
      forwarded,
      forwardedRate: Math.round(forwarded / Math.max(wallS, 1e-3)),
      loss: report.sent > 0 ? Math.max(0, 1 - forwarded / report.sent) : 0,
      durationS: r3(wallS),
      nodeCpuCores: cpu0 !== null && cpu1 !== null ? r3((cpu1 - cpu0) / 1000 / wallS) : 0,
      generatorCpuCores: r3(report.cpuMs / 1000 / wallS),
      sinkCpuCores: r3(sinkCpuMs / 1000 / wallS),
      nodeDrops,
      latency,
      nodeLatency: histSummary(histDiff(stats1.latency_overhead?.hist, stats0.latency_overhead?.hist)),
      report,
    };
  }

  async close(): Promise<void> {
    for (const child of [this.gen, this.sink]) {
      if (child && child.exitCode === null) {
        try {
          child.send({ type: 'exit' });
        } catch {
          child.kill();
        }
      }
    }
    if (this.node && this.node.exitCode === null && this.node.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.node.once('exit', () => resolve()));
      this.node.kill('SIGTERM');
      const t = setTimeout(() => this.node.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
