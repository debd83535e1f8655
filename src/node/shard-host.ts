/**
 * The main thread of the sharded packet path (docs/pipeline.md "Sharded packet path"): the control plane.
 * It opens the node's SO_REUSEPORT socket group (one socket per worker, src/node/udp-batch.ts), starts one
 * packet-path worker per socket (src/node/shard-worker.ts) and from then on touches no forwarded packet. It
 * keeps what the design gives the main thread:
 *
 *  - the PID AQM controller (src/node/aqm.ts) over the workers' queueing delays, read from and written to the
 *    shared control block (src/node/shard-control.ts) every aqm.intervalMs;
 *  - keys and epochs (src/node/epochs.ts: the shared key table the workers read; the replay filters, which
 *    live in shared memory and which the workers check in place, and their log, which the main thread
 *    writes for the workers: src/node/shard-replay.ts);
 *  - the topology (forwarded to the workers when a newer document is adopted), own loops (built here, sent
 *    by a worker), the provider's inbox deliveries and client submissions, metrics (counter deltas from the
 *    workers every 200 ms) and the stats report.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { LoopixError } from '../errors.js';
import { effectiveMaxDelayUs } from '../max-delay.js';
import { registerNodeGauges } from './node-gauges.js';
import type { TopologyIndex } from '../topology/document.js';
import { AqmController } from './aqm.js';
import { EpochStage } from './epochs.js';
import { Incoming } from './incoming.js';
import { nodeLoopEmitter, type LoopEmitter } from './loops.js';
import { LatencyHistogram, NodeMetrics, type CounterName, type DropReason } from './metrics.js';
import type { NodePacketPath, NodeSnapshot, PipelineOptions } from './pipeline.js';
import { ShardControl } from './shard-control.js';
import { nodeSnapshot, startNodeTimers } from './stats-report.js';
import { SharedKeyTable } from './epoch-keys.js';
import { defaultLinkCipher, LinkLayer, tsLinkCipher } from './link/index.js';
import { REPLAY_FILTER_TAG_BYTES as TAG_BYTES } from '../geometry.js';
import type { MainToShard, ShardToMain, ShardWorkerInit } from './shard-worker.js';
import { closeUdpFd, openReusePortGroup, type ReusePortGroup } from './udp-batch.js';

/** The compiled worker script (next to this module in dist/, else dist/src/node/ for vitest on the sources). */
function shardWorkerFile(): string {
  const sibling = fileURLToPath(new URL('./shard-worker.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  const compiled = fileURLToPath(new URL('../../dist/src/node/shard-worker.js', import.meta.url));
  if (existsSync(compiled)) return compiled;
  throw new LoopixError(
    'ERR_LOOPIX_NODE_WORKER_MISSING',
    `packet-path worker not found at ${sibling} or ${compiled}; run \`npm run build:ts\``,
  );
}

/**
 * Nice increment of the packet-path workers: 0 by default. Unlike the crypto pool's workers (WORKER_NICE),
 * these read their own sockets, so lowering them would only move the queue into the kernel's buffer; the
 * main thread has nothing per packet to protect. LOOPIX_WORKER_NICE still overrides.
 */
function workerNice(): number {
  const env = process.env.LOOPIX_WORKER_NICE;
  const n = env === undefined || env === '' ? 0 : Number(env);
  return Number.isInteger(n) && n >= 0 && n <= 19 ? n : 0;
}

export class ShardedPipeline implements NodePacketPath {
  readonly metrics: NodeMetrics;
  readonly geometry;
  readonly port: number;
  readonly loops: LoopEmitter | undefined;
  readonly aqm: AqmController;
  readonly loopRtt = new LatencyHistogram();
  readonly control: ShardControl;
  private readonly link: LinkLayer;
  private readonly workers: Worker[] = [];
  private readonly incoming: Incoming;
  private readonly timers: NodeJS.Timeout[] = [];
  private submitted: Uint8Array[] = [];
  private submitQueued = false;
  private nextWorker = 0;
  /** Workers whose thread has not exited: the `workers` gauge (and /healthz's workers check) reads this. */
  private running = 0;
  private closed = false;
  private readonly log: Logger;

  private constructor(
    private readonly o: PipelineOptions,
    private readonly group: ReusePortGroup,
    private readonly epochs: EpochStage,
    metrics: NodeMetrics,
  ) {
    const { config, topology, self } = o;
    this.log = o.log;
    this.metrics = metrics;
    this.geometry = topology.geometry;
    this.port = group.port;
    this.aqm = new AqmController(config.pipeline.aqm);
    this.control = new ShardControl(group.sockets.length);
    this.control.maxDelayUs = effectiveMaxDelayUs(topology.doc, config.params.mu, config.params.maxDelayMs);
    this.control.maxQueueDelayMs = config.pipeline.aqm.maxQueueDelayMs;
    this.control.epoch = epochs.currentEpoch;
    // The link layer's shared state (sequence counters, replay windows): every worker opens and seals with
    // its own LinkLayer over these SharedArrayBuffers (src/node/link/index.ts).
    const keyReader = new SharedKeyTable(epochs.keyring.table.buffer);
    this.link = new LinkLayer({
      geometry: topology.geometry,
      topology,
      selfId: self.id,
      ownKey: (epoch) => (epochs.resolve(epoch & 0xffff) === epoch ? keyReader.lookup(epoch & 0xffff) : undefined),
      currentEpoch: () => epochs.currentEpoch,
      x25519: (sk, pk) => o.backend.x25519(sk, pk),
      cipher: o.backend.name === 'native' ? defaultLinkCipher() : tsLinkCipher,
    });
    this.incoming = new Incoming(this.geometry, epochs.resolve, { accept: (p) => this.queueSubmit(p) }, metrics);
    this.loops = nodeLoopEmitter(o, {
      send: (packet, to) =>
        this.toWorker({ type: 'send', packet, host: to.udp.host, port: to.udp.port, counter: 'loops_sent' }),
      count: (name, by) => this.metrics.count(name, by),
      onRtt: (ms) => this.loopRtt.record(ms),
    });
  }

  static async start(o: PipelineOptions, epochs: EpochStage, metrics: NodeMetrics): Promise<ShardedPipeline> {
    const { config } = o;
    const listen = config.listen ?? o.self.udp;
    const count = config.pipeline.workers ?? Math.max(1, availableParallelism());
    const group = openReusePortGroup({
      host: listen.host,
      port: listen.port,
      sockets: count,
      bufferBytes: config.pipeline.socketBufferBytes,
    });
    const node = new ShardedPipeline(o, group, epochs, metrics);
    // Before the workers start: a key change from now on reaches every worker created since.
    epochs.onKeysChanged(() => node.postReplayFilters());
    try {
      await node.startWorkers();
    } catch (err) {
      await node.close();
      throw err;
    }
    if (!group.spread && count > 1) {
      node.log.warn(
        'could not attach the random-spread program to the SO_REUSEPORT group: each upstream peer is served by one worker',
      );
    }
    node.registerGauges();
    node.startTimers();
    node.loops?.start();
    return node;
  }

  private async startWorkers(): Promise<void> {
    const { config, topology, self } = this.o;
    const n = this.group.sockets.length;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const shard: ShardWorkerInit = {
        index: i,
        fd: this.group.sockets[i]!.fd,
        control: this.control.buffer,
        workers: n,
        keyTable: this.epochs.keyring.table.buffer,
        topology: topology.doc,
        self: { id: self.id, role: self.role, layer: self.layer },
        backend: this.o.backend.name,
        nice: workerNice(),
        batchSize: config.pipeline.batchSize,
        aqm: config.pipeline.aqm,
        maxHeld: Math.max(1, Math.floor(config.pipeline.maxHeldPackets / n)),
        faults: config.faults,
        deliver: this.o.deliver !== undefined,
        link: this.link.shared(),
        replay: {
          params: this.epochs.replay.sharedParams,
          filters: this.epochs.replay.sharedEpochs(),
          persist: this.epochs.persistent,
          resetWhenFull: config.replay.unsafeResetWhenFull,
        },
      };
      const w = new Worker(shardWorkerFile(), { workerData: { shard } });
      this.workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: ShardToMain) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error')
              reject(
                new LoopixError(
                  'ERR_LOOPIX_NODE_WORKER_START',
                  `packet-path worker ${i} failed to start: ${m.message}`,
                ),
              );
          };
          w.once('message', onMessage);
          w.once('error', (err) =>
            reject(new LoopixError('ERR_LOOPIX_NODE_WORKER_START', `packet-path worker ${i} failed: ${err.message}`)),
          );
        }),
      );
      this.running++;
      w.once('exit', () => this.running--);
      w.on('message', (m: ShardToMain) => this.onWorkerMessage(w, m));
      w.on('error', (err) => {
        this.metrics.count('worker_errors');
        this.log.error({ worker: i, err: err.message }, 'packet-path worker failed');
      });
    }
    await Promise.all(ready);
  }

  // ---- messages from the workers ------------------------------------------------------------------------

  private onWorkerMessage(w: Worker, m: ShardToMain): void {
    switch (m.type) {
      case 'stats':
        for (const [k, v] of Object.entries(m.counts)) this.metrics.count(k as CounterName, v);
        for (const [k, v] of Object.entries(m.drops)) this.metrics.drop(k as DropReason, v);
        if (m.latency.count > 0) this.metrics.latency.merge(m.latency);
        break;
      case 'replayLog':
        this.logReplayTags(w, m.id, m.epochs, m.tags, m.count);
        break;
      case 'deliver': {
        const A = this.geometry.addressBytes;
        const N = this.geometry.packetBytes;
        for (let i = 0; i < m.count; i++)
          this.o.deliver?.(m.clients.subarray(i * A, (i + 1) * A), m.packets.subarray(i * N, (i + 1) * N));
        break;
      }
      case 'loop': {
        const ret = this.loops?.onReturn(m.id) ?? { kind: 'unknown' as const };
        if (ret.kind === 'unknown') this.metrics.drop('loop_unknown');
        else if (ret.kind === 'duplicate') this.metrics.drop('loop_duplicate');
        break;
      }
      default:
        break;
    }
  }

  /**
   * Appends the fresh tags a worker admitted to the replay log (one write(2) per epoch) and tells the worker
   * whether they are durable: its batch's packets leave only after a good answer (src/node/shard-replay.ts).
   */
  private logReplayTags(w: Worker, id: number, epochs: Float64Array, tags: Uint8Array, count: number): void {
    const replay = this.epochs.replay;
    for (let i = 0; i < count; i++) replay.stageAdmitted(epochs[i]!, tags, i * TAG_BYTES);
    const reply: MainToShard = { type: 'replayLogged', id, ok: this.epochs.flush() };
    w.postMessage(reply);
  }

  // ---- ingress from the main thread (provider SUBMITs) and own loops ------------------------------------

  submit(packet: Uint8Array): void {
    if (this.closed) {
      this.metrics.drop('shutdown');
      return;
    }
    this.incoming.submit(packet);
  }

  private queueSubmit(packet: Uint8Array): void {
    this.submitted.push(packet.slice());
    if (this.submitQueued) return;
    this.submitQueued = true;
    setImmediate(() => {
      this.submitQueued = false;
      const list = this.submitted;
      this.submitted = [];
      if (list.length === 0 || this.closed) return;
      const N = this.geometry.packetBytes;
      const packets = new Uint8Array(list.length * N);
      list.forEach((p, i) => packets.set(p, i * N));
      this.toWorker({ type: 'submit', packets, count: list.length }, [packets.buffer]);
    });
  }

  /** Round-robin over the workers (own loops and submissions are a small share of the traffic). */
  private toWorker(m: MainToShard, transfer: ArrayBuffer[] = []): void {
    if (this.closed || this.workers.length === 0) return;
    const w = this.workers[this.nextWorker++ % this.workers.length]!;
    w.postMessage(m, transfer);
  }

  // ---- control plane ------------------------------------------------------------------------------------

  /** The live replay filters changed with the keys: every worker checks against the new set. */
  private postReplayFilters(): void {
    const m: MainToShard = { type: 'replayFilters', filters: this.epochs.replay.sharedEpochs() };
    for (const w of this.workers) w.postMessage(m);
  }

  /** Adopts a newer topology document: workers route by it, and its delay bound applies. */
  setTopology(t: TopologyIndex): void {
    this.loops?.setTopology(t);
    this.link.setTopology(t);
    const { config } = this.o;
    this.control.maxDelayUs = effectiveMaxDelayUs(t.doc, config.params.mu, config.params.maxDelayMs);
    for (const w of this.workers) w.postMessage({ type: 'topology', doc: t.doc } satisfies MainToShard);
  }

  private startTimers(): void {
    this.timers.push(
      ...startNodeTimers(this.o, {
        aqmTick: () => {
          this.aqm.update(this.control.takeQueueDelay());
          this.control.probability = this.aqm.publishedProbability;
          this.control.epoch = this.epochs.currentEpoch;
        },
        stats: () => this.snapshot(),
      }),
    );
  }

  snapshot(): NodeSnapshot {
    return nodeSnapshot(this.metrics, this.loopRtt, this.loops);
  }

  private registerGauges(): void {
    const m = this.metrics;
    m.gauge('pipeline_mode', () => 2);
    m.gauge('scheduled_packets', () => this.control.held);
    this.epochs.registerGauges(m);
    // Threads still running, not threads started: a worker that died leaves its socket unread.
    m.gauge('workers', () => this.running);
    m.gauge('reuseport_spread', () => this.group.spread);
    registerNodeGauges(
      m,
      {
        port: () => this.port,
        requestedBufferBytes: this.o.config.pipeline.socketBufferBytes,
        recvBufferBytes: () => this.group.sockets[0]?.recvBufferBytes ?? 0,
        sendBufferBytes: () => this.group.sockets[0]?.sendBufferBytes ?? 0,
        nativeSphinx: this.o.backend.name === 'native',
      },
      this.aqm,
      this.loops,
    );
  }

  /** Stops the workers (each counts what it held as shutdown and reports it), then the epoch stage. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.loops?.stop();
    for (const t of this.timers) clearInterval(t);
    const pendingSubmits = this.submitted.length;
    this.submitted = [];
    if (pendingSubmits > 0) this.metrics.drop('shutdown', pendingSubmits);
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 3000);
            w.on('message', (m: ShardToMain) => {
              if (m.type === 'closed') {
                clearTimeout(timer);
                resolve();
              }
            });
            w.on('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              w.postMessage({ type: 'close' } satisfies MainToShard);
            } catch {
              resolve();
            }
          }),
      ),
    );
    await Promise.all(this.workers.map((w) => w.terminate().catch(() => undefined)));
    // Sockets no worker took over (a worker that failed to start).
    for (let i = this.workers.length; i < this.group.sockets.length; i++) closeUdpFd(this.group.sockets[i]!.fd);
    await this.epochs.close();
  }
}
