/**
 * One packet-path worker of the sharded path (docs/pipeline.md "Sharded packet path"): a plain worker thread
 * that owns one UDP socket of the node's SO_REUSEPORT group and does everything a packet needs, end to end:
 *
 *   recvmmsg ─▶ AQM gate ─▶ [link open] ─▶ size + epoch checks ─▶ unwrapBatch (in place, one N-API call per run
 *   of one key epoch) ─▶ delay bound + held cap ─▶ replay gate ─▶ router ─▶ delay heap (one timer) ─▶
 *   [link seal] ─▶ sendmmsg
 *
 * The main thread never sees a forwarded packet. It steers through the shared control block
 * (src/node/shard-control.ts: AQM drop probability, epoch, delay bound) and the shared key table; this
 * thread reports the queueing delay it measured (kernel receive timestamps) into the same block, and
 * counter deltas and latency-histogram buckets by message every STATS_MS. The replay check runs here, against
 * the node's filters in shared memory (src/node/shard-replay.ts). Messages per batch exist only for what the
 * main thread owns anyway: deliveries to the provider inbox (SQLite), own loops coming back, and the replay
 * log (the fresh tags of a batch, when the node persists its filter).
 *
 * Nothing on the packet path throws: every way a packet ends is a counter.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { NodeConfig } from '../config/schema.js';
import { makeGeometry } from '../geometry.js';
import { decodeRecord, RECORD } from '../sphinx/records.js';
import { loadNativeBackend } from '../sphinx/native.js';
import { tsBackend } from '../sphinx/ts/index.js';
import { ResultKind } from '../sphinx/types.js';
import { TopologyIndex } from '../topology/document.js';
import type { AnyTopology, NodeEntry, Role } from '../topology/types.js';
import { AqmController } from './aqm.js';
import { NO_KEY_REASON, prefixEpoch, SharedKeyTable } from './epoch-keys.js';
import { Faults } from './faults.js';
import { injectedSlowdown, stretch } from './bench-slowdown.js';
import { LatencyHistogram, type CounterName, type DropReason, type HistogramState } from './metrics.js';
import { Router } from './router.js';
import { DelayScheduler, holdPacket, type HeldPacket } from './scheduler.js';
import { ShardControl } from './shard-control.js';
import { BatchSocket, encodeUdpAddress, UDP_ADDR_BYTES, type ReceivedBatch } from './udp-batch.js';
import { linkLayerStage, type LinkStage } from './shard-link.js';
import { defaultLinkCipher, LinkLayer, tsLinkCipher, type LinkSharedState } from './link/index.js';
import {
  LocalReplayGate,
  REPLAY_FRESH,
  REPLAY_KEY_EXPIRED,
  REPLAY_VERDICT_REASON,
  REPLAY_WRONG_EPOCH,
  type ReplayLogRequest,
  type ReplayVerdict,
} from './shard-replay.js';
import type { SharedEpochFilter, SharedReplayParams } from './replay.js';
import { REPLAY_FILTER_TAG_BYTES as TAG_BYTES } from '../geometry.js';

export interface ShardWorkerInit {
  readonly index: number;
  readonly fd: number;
  readonly control: SharedArrayBuffer;
  readonly workers: number;
  readonly keyTable: SharedArrayBuffer;
  readonly topology: AnyTopology;
  readonly self: { readonly id: string; readonly role: Role; readonly layer: number };
  readonly backend: 'native' | 'ts';
  readonly nice: number;
  readonly batchSize: number;
  readonly aqm: NodeConfig['pipeline']['aqm'];
  /** This worker's share of pipeline.maxHeldPackets. */
  readonly maxHeld: number;
  readonly faults?: NodeConfig['faults'];
  /** Whether the node has an inbox (providers): DELIVER packets are held and posted to the main thread. */
  readonly deliver: boolean;
  /** The node's link-layer shared state (LinkLayer.shared() of the main thread). */
  readonly link: LinkSharedState;
  /** The node's replay filters in shared memory (src/node/shard-replay.ts). */
  readonly replay: {
    readonly params: SharedReplayParams;
    readonly filters: readonly SharedEpochFilter[];
    /** Whether fresh tags must be logged by the main thread before their packets leave. */
    readonly persist: boolean;
    readonly resetWhenFull: boolean;
  };
}

/** Messages to the main thread. */
export type ShardToMain =
  | { readonly type: 'ready'; readonly index: number }
  | {
      readonly type: 'stats';
      readonly index: number;
      readonly counts: Record<string, number>;
      readonly drops: Record<string, number>;
      readonly latency: HistogramState;
    }
  | { readonly type: 'deliver'; readonly clients: Uint8Array; readonly packets: Uint8Array; readonly count: number }
  | { readonly type: 'loop'; readonly id: Uint8Array }
  | ReplayLogRequest
  | { readonly type: 'closed'; readonly index: number; readonly discarded: number }
  | { readonly type: 'error'; readonly message: string };

/** Messages from the main thread. */
export type MainToShard =
  | { readonly type: 'topology'; readonly doc: AnyTopology }
  | { readonly type: 'submit'; readonly packets: Uint8Array; readonly count: number }
  | {
      readonly type: 'send';
      readonly packet: Uint8Array;
      readonly host: string;
      readonly port: number;
      readonly counter: CounterName;
    }
  | { readonly type: 'replayFilters'; readonly filters: readonly SharedEpochFilter[] }
  | { readonly type: 'replayLogged'; readonly id: number; readonly ok: boolean }
  | { readonly type: 'close' };

/** How often counter deltas go to the main thread, ms. */
const STATS_MS = 200;
/** recvmmsg calls per readable event before yielding to timers and messages (the poll is level-triggered). */
const MAX_ROUNDS = 4;

/** What the delay stage holds here: the next hop as an encoded UDP address. */
type Held = HeldPacket<Uint8Array>;

/** One unwrapped batch waiting for its replay verdicts. */
interface Pending {
  readonly packets: Uint8Array;
  readonly records: Uint8Array;
  readonly arrivals: Float64Array;
  /** Indices (into the batch) of the packets whose tags went to the replay gate, in order. */
  readonly checked: Int32Array;
  readonly count: number;
}

export class ShardWorker {
  private readonly g;
  private readonly control: ShardControl;
  private readonly keys: SharedKeyTable;
  private readonly backend;
  private router: Router;
  private readonly addressOf = new Map<NodeEntry, Uint8Array>();
  private readonly socket: BatchSocket;
  private readonly aqm: AqmController;
  private readonly scheduler: DelayScheduler<Held>;
  private readonly link: LinkStage;
  private readonly linkLayer: LinkLayer;
  private readonly replay: LocalReplayGate;
  private readonly faults: Faults | undefined;
  // Counters since the last report.
  private counts: Record<string, number> = {};
  private drops: Record<string, number> = {};
  private latency = new LatencyHistogram();
  // Outgoing batch: packets back to back, their addresses, and the counter each bumps once sent.
  private readonly sendSlab: Uint8Array;
  private readonly sendAddrs: Uint8Array;
  private readonly sendCounter: CounterName[] = [];
  private readonly sendStatus: Int32Array;
  private sendCount = 0;
  /** Sealed datagrams the kernel could not take yet (socket buffer full), sent when it is writable again. */
  private backlog: { packet: Uint8Array; to: Uint8Array; counter: CounterName }[] = [];
  private flushQueued = false;
  private deliveries: { client: Uint8Array; packet: Uint8Array }[] = [];
  private readonly statsTimer: NodeJS.Timeout;
  /** Packets admitted to the delay stage whose batch still waits for its replay verdicts. */
  private admittedHeld = 0;
  /** Benchmark-only injected slowdown (src/node/bench-slowdown.ts); 0 on every other node. */
  private readonly slowdown = injectedSlowdown();
  private closed = false;

  constructor(
    private readonly o: ShardWorkerInit,
    private readonly post: (m: ShardToMain, transfer?: ArrayBuffer[]) => void,
  ) {
    this.g = makeGeometry(o.topology.geometry);
    this.control = new ShardControl(o.workers, o.control);
    this.keys = new SharedKeyTable(o.keyTable);
    this.backend = o.backend === 'ts' ? tsBackend : loadNativeBackend();
    this.router = new Router({ topology: new TopologyIndex(o.topology), role: o.self.role, layer: o.self.layer });
    this.aqm = AqmController.decider(o.aqm);
    this.scheduler = new DelayScheduler<Held>((item) => this.depart(item));
    this.linkLayer = new LinkLayer({
      geometry: this.g,
      topology: new TopologyIndex(o.topology),
      selfId: o.self.id,
      ownKey: (epoch) => this.keys.lookup(epoch & 0xffff),
      currentEpoch: () => this.control.epoch,
      x25519: (sk, pk) => this.backend.x25519(sk, pk),
      cipher: o.backend === 'native' ? defaultLinkCipher() : tsLinkCipher,
      shared: o.link,
    });
    this.link = linkLayerStage(this.g, this.linkLayer);
    this.replay = new LocalReplayGate({
      params: o.replay.params,
      filters: o.replay.filters,
      rejection: (epoch16) => (this.epochBehind(epoch16) ? REPLAY_KEY_EXPIRED : REPLAY_WRONG_EPOCH),
      persist: o.replay.persist ? (m, t) => this.post(m, t) : undefined,
      resetWhenFull: o.replay.resetWhenFull,
      onReset: () => this.count('replay_resets'),
    });
    this.faults = o.faults && Faults.active(o.faults) ? new Faults(o.faults) : undefined;
    const N = this.link.datagramBytes;
    this.sendSlab = new Uint8Array(o.batchSize * N);
    this.sendAddrs = new Uint8Array(o.batchSize * UDP_ADDR_BYTES);
    this.sendStatus = new Int32Array(o.batchSize);
    this.socket = new BatchSocket(o.fd, N, o.batchSize, {
      onReadable: () => this.onReadable(),
      onWritable: () => this.flushBacklog(),
      onError: () => this.count('socket_error'),
    });
    this.statsTimer = setInterval(() => this.report(), STATS_MS);
    this.socket.start();
  }

  // ---- messages from the main thread ---------------------------------------------------------------

  onMessage(m: MainToShard): void {
    switch (m.type) {
      case 'topology':
        this.router = new Router({
          topology: new TopologyIndex(m.doc),
          role: this.o.self.role,
          layer: this.o.self.layer,
        });
        this.linkLayer.setTopology(new TopologyIndex(m.doc));
        this.addressOf.clear();
        break;
      case 'submit':
        // Client packets a provider's front end accepted (counted as received there): the same path as datagrams.
        this.ingestPackets(m.packets, m.count);
        this.flushSends();
        break;
      case 'send':
        this.enqueue(m.packet, encodeUdpAddress(m.host, m.port), m.counter);
        this.flushSends();
        break;
      case 'replayFilters':
        this.replay.setFilters(m.filters);
        break;
      case 'replayLogged':
        this.replay.logged(m.id, m.ok);
        break;
      case 'close':
        this.close();
        break;
    }
  }

  // ---- receive --------------------------------------------------------------------------------------

  private onReadable(): void {
    // Benchmark-only injected slowdown (src/node/bench-slowdown.ts): the whole of a wake-up's work — receive,
    // link, unwrap, replay, routing, send — is stretched, so the node's packet path is slower by the fraction.
    const t0 = this.slowdown > 0 ? performance.now() : 0;
    this.receiveRounds();
    if (this.slowdown > 0) stretch(performance.now() - t0, this.slowdown);
  }

  private receiveRounds(): void {
    for (let round = 0; round < MAX_ROUNDS && !this.closed; round++) {
      let b: ReceivedBatch;
      try {
        b = this.socket.receive();
      } catch {
        this.count('socket_error');
        break;
      }
      if (b.count === 0) break;
      this.ingest(b);
      if (b.count < this.o.batchSize) break;
    }
    this.flushSends();
  }

  /** Gate, link-open and check one received batch, then unwrap what is left. */
  private ingest(b: ReceivedBatch): void {
    const N = this.g.packetBytes;
    const now = performance.now();
    this.aqm.probability = this.control.probability;
    const maxQueueMs = this.control.maxQueueDelayMs;
    const packets = new Uint8Array(b.count * N);
    const arrivals = new Float64Array(b.count);
    let n = 0;
    let longest = 0;
    this.count('received', b.count);
    for (let i = 0; i < b.count; i++) {
      const wait = b.waits[i]!;
      if (wait > longest) longest = wait;
      // The receive buffer is this worker's queue: a datagram that waited longer than the hard bound, or that
      // the AQM's probability picks, is dropped before any work is spent on it.
      if (wait >= maxQueueMs) {
        this.drop('queue_full');
        continue;
      }
      const verdict = this.aqm.decide(0, wait);
      if (verdict !== null) {
        this.drop(verdict);
        continue;
      }
      const len = b.lengths[i]!;
      const opened = this.link.open(b.slab, i * b.slotBytes, Math.min(len, b.slotBytes), b.addrs, i * UDP_ADDR_BYTES);
      if (typeof opened === 'string') {
        this.drop(opened);
        continue;
      }
      if (opened.length !== N) {
        this.drop('bad_size');
        continue;
      }
      if (!this.epochLive(prefixEpoch(opened, 0))) continue;
      packets.set(opened, n * N);
      arrivals[n] = now - wait;
      n++;
    }
    this.control.reportQueueDelay(this.o.index, longest);
    if (n > 0) this.unwrap(packets.subarray(0, n * N), arrivals, n);
  }

  /** Packets handed over by the main thread (provider SUBMITs), already counted and checked there. */
  private ingestPackets(bytes: Uint8Array, count: number): void {
    const now = performance.now();
    const arrivals = new Float64Array(count).fill(now);
    this.unwrap(bytes, arrivals, count);
  }

  /** Whether the prefix epoch has a live key; counts the drop when not. */
  private epochLive(epoch16: number): boolean {
    if (this.keys.lookup(epoch16)) return true;
    this.drop(this.epochBehind(epoch16) ? 'key_expired' : 'wrong_epoch');
    return false;
  }

  /** Whether prefix epoch `epoch16` is behind the current one (mod 2^16): its key was retired. */
  private epochBehind(epoch16: number): boolean {
    return ((this.control.epoch16 - epoch16) & 0xffff) < 0x8000 && epoch16 !== this.control.epoch16;
  }

  // ---- unwrap, admission, replay ---------------------------------------------------------------------

  private unwrap(packets: Uint8Array, arrivals: Float64Array, count: number): void {
    const g = this.g;
    const N = g.packetBytes;
    const RB = g.recordBytes;
    const records = new Uint8Array(count * RB);
    for (let start = 0; start < count;) {
      const epoch16 = prefixEpoch(packets, start * N);
      let end = start + 1;
      while (end < count && prefixEpoch(packets, end * N) === epoch16) end++;
      const key = this.keys.lookup(epoch16);
      if (key) {
        this.backend.unwrapBatch(g, key, packets.subarray(start * N, end * N), records.subarray(start * RB, end * RB));
      } else for (let i = start; i < end; i++) records[i * RB + RECORD.reason] = NO_KEY_REASON;
      start = end;
    }
    this.keys.sweep();
    this.count('processed', count);
    this.count('crypto_batches');
    // Admission before the replay gate: a packet refused for its delay or for room costs no filter capacity.
    const now = performance.now();
    const maxDelayUs = this.control.maxDelayUs;
    const checked = new Int32Array(count);
    const epochs = new Uint16Array(count);
    const tags = new Uint8Array(count * TAG_BYTES);
    const tagOffset = RECORD.address + g.addressBytes;
    let m = 0;
    let heldHere = 0;
    for (let i = 0; i < count; i++) {
      const base = i * RB;
      const kind = records[base + RECORD.kind];
      if (kind === ResultKind.invalid) {
        const reason = records[base + RECORD.reason];
        if (reason === NO_KEY_REASON) this.drop('key_expired');
        else {
          const r = decodeRecord(g, records, i, packets.subarray(i * N, (i + 1) * N));
          this.drop(r.kind === 'invalid' ? (`invalid_${r.reason}` as DropReason) : 'crypto_error');
        }
        continue;
      }
      if (kind === ResultKind.relay || kind === ResultKind.deliver) {
        const delayUs = readUint32LE(records, base + RECORD.delay);
        if (delayUs > maxDelayUs) {
          this.drop('excessive_delay');
          continue;
        }
        if (arrivals[i]! + delayUs / 1000 > now) {
          // Admitted packets still waiting for their replay verdicts count against the cap too.
          if (this.scheduler.size + this.admittedHeld >= this.o.maxHeld) {
            this.drop('held_full');
            continue;
          }
          this.admittedHeld++;
          heldHere++;
        }
      }
      checked[m] = i;
      epochs[m] = prefixEpoch(packets, i * N);
      tags.set(records.subarray(base + tagOffset, base + tagOffset + TAG_BYTES), m * TAG_BYTES);
      m++;
    }
    if (m === 0) return;
    const pending: Pending = { packets, records, arrivals, checked, count: m };
    this.replay.check(epochs, tags, m, (verdicts) => {
      this.admittedHeld -= heldHere;
      this.route(pending, verdicts);
    });
  }

  // ---- routing and the delay stage --------------------------------------------------------------------

  private route(p: Pending, verdicts: Uint8Array): void {
    if (this.closed) {
      this.drop('shutdown', p.count);
      return;
    }
    const g = this.g;
    const N = g.packetBytes;
    const RB = g.recordBytes;
    const now = performance.now();
    for (let j = 0; j < p.count; j++) {
      const v = verdicts[j] as ReplayVerdict;
      if (v !== REPLAY_FRESH) {
        this.drop(REPLAY_VERDICT_REASON[v]);
        continue;
      }
      const i = p.checked[j]!;
      const base = i * RB;
      const packet = p.packets.subarray(i * N, (i + 1) * N);
      const arrival = p.arrivals[i]!;
      if (p.records[base + RECORD.kind] === ResultKind.relay) {
        const next = this.router.nextHopAt(p.records, base + RECORD.address, g.addressBytes);
        if (typeof next === 'string') {
          this.drop(next);
          continue;
        }
        const delayMs = readUint32LE(p.records, base + RECORD.delay) / 1000;
        const to = this.addressFor(next);
        if (arrival + delayMs <= now) {
          this.latency.record(now - arrival - delayMs);
          this.forward(packet, to);
        } else {
          // A copy: a view would keep the whole batch alive while this one packet is held.
          this.scheduler.schedule(arrival + delayMs, { kind: 'forward', packet: packet.slice(), to, arrival, delayMs });
        }
        continue;
      }
      const action = this.router.route(decodeRecord(g, p.records, i, packet));
      switch (action.kind) {
        case 'forward':
          holdPacket(this.scheduler, packet, arrival, action.delayUs, { to: this.addressFor(action.next) });
          break;
        case 'deliver':
          if (!this.o.deliver) this.drop('no_inbox');
          else holdPacket(this.scheduler, packet, arrival, action.delayUs, { client: action.client });
          break;
        case 'loop':
          this.post({ type: 'loop', id: action.id.slice() });
          break;
        case 'drop':
          this.drop(action.reason);
          break;
      }
    }
    this.control.setHeld(this.o.index, this.scheduler.size);
  }

  private depart(item: Held): void {
    this.latency.record(performance.now() - item.arrival - item.delayMs);
    if (item.kind === 'forward') this.forward(item.packet, item.to);
    else {
      this.deliveries.push({ client: item.client, packet: item.packet });
    }
    this.queueFlush();
  }

  private forward(packet: Uint8Array, to: Uint8Array): void {
    if (this.faults) {
      const action = this.faults.apply(packet);
      if (action === 'drop') {
        this.drop('fault_injected');
        return;
      }
      if (action === 'delay') {
        const copy = packet.slice();
        setTimeout(() => {
          this.enqueue(copy, to, 'forwarded');
          this.flushSends();
        }, this.faults.delayMs);
        return;
      }
    }
    this.enqueue(packet, to, 'forwarded');
  }

  private addressFor(node: NodeEntry): Uint8Array {
    let a = this.addressOf.get(node);
    if (a === undefined) {
      a = encodeUdpAddress(node.udp.host, node.udp.port);
      this.addressOf.set(node, a);
    }
    return a;
  }

  // ---- send ---------------------------------------------------------------------------------------------

  /** Adds one datagram to the outgoing batch (link seal happens here); a full batch goes out at once. */
  private enqueue(packet: Uint8Array, to: Uint8Array, counter: CounterName): void {
    const D = this.link.datagramBytes;
    if (this.backlog.length > 0) {
      // Behind datagrams the kernel has not taken yet: keep the order, sealed now into a buffer of its own.
      const out = new Uint8Array(D);
      const ok = this.link.seal(packet, to, out, 0);
      if (ok !== true) this.drop(ok);
      else this.backlog.push({ packet: out, to, counter });
      return;
    }
    const sealed = this.link.seal(packet, to, this.sendSlab, this.sendCount * D);
    if (sealed !== true) {
      this.drop(sealed);
      return;
    }
    this.sendAddrs.set(to, this.sendCount * UDP_ADDR_BYTES);
    this.sendCounter[this.sendCount] = counter;
    this.sendCount++;
    if (this.sendCount === this.o.batchSize) this.flushSends();
    else this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flushSends();
      this.flushDeliveries();
    });
  }

  /** One sendmmsg for everything queued; what the kernel cannot take now waits for writability. */
  private flushSends(): void {
    const count = this.sendCount;
    if (count === 0) return;
    this.sendCount = 0;
    const D = this.link.datagramBytes;
    let handled = 0;
    try {
      handled = this.socket.send(this.sendSlab, D, count, this.sendAddrs, this.sendStatus);
    } catch {
      handled = count;
      this.sendStatus.fill(-1, 0, count);
    }
    for (let i = 0; i < handled; i++) {
      if (this.sendStatus[i] === 0) this.count(this.sendCounter[i]!);
      else this.drop('send_error');
    }
    if (handled < count) {
      for (let i = handled; i < count; i++) {
        this.backlog.push({
          packet: this.sendSlab.slice(i * D, (i + 1) * D),
          to: this.sendAddrs.slice(i * UDP_ADDR_BYTES, (i + 1) * UDP_ADDR_BYTES),
          counter: this.sendCounter[i]!,
        });
      }
      this.socket.wantWritable(true);
    }
  }

  /** Sends what waited for the kernel, in order (already sealed). */
  private flushBacklog(): void {
    const D = this.link.datagramBytes;
    while (this.backlog.length > 0) {
      const n = Math.min(this.backlog.length, this.o.batchSize);
      for (let i = 0; i < n; i++) {
        const b = this.backlog[i]!;
        this.sendSlab.set(b.packet, i * D);
        this.sendAddrs.set(b.to, i * UDP_ADDR_BYTES);
      }
      const handled = this.socket.send(this.sendSlab, D, n, this.sendAddrs, this.sendStatus);
      for (let i = 0; i < handled; i++) {
        if (this.sendStatus[i] === 0) this.count(this.backlog[i]!.counter);
        else this.drop('send_error');
      }
      this.backlog.splice(0, handled);
      if (handled < n) {
        this.socket.wantWritable(true);
        return;
      }
    }
  }

  private flushDeliveries(): void {
    const n = this.deliveries.length;
    if (n === 0) return;
    const A = this.g.addressBytes;
    const N = this.g.packetBytes;
    const clients = new Uint8Array(n * A);
    const packets = new Uint8Array(n * N);
    for (let i = 0; i < n; i++) {
      clients.set(this.deliveries[i]!.client, i * A);
      packets.set(this.deliveries[i]!.packet, i * N);
    }
    this.deliveries = [];
    this.post({ type: 'deliver', clients, packets, count: n }, [clients.buffer, packets.buffer]);
  }

  // ---- counters ---------------------------------------------------------------------------------------

  private count(name: CounterName, by = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + by;
  }

  private drop(reason: DropReason, by = 1): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + by;
  }

  private report(): void {
    this.control.setHeld(this.o.index, this.scheduler.size);
    this.keys.sweep(); // cached private keys of retired epochs too, also when no batch arrives
    this.linkLayer.sweep(); // link keys of retired epochs are wiped in every thread
    if (Object.keys(this.counts).length === 0 && Object.keys(this.drops).length === 0 && this.latency.count === 0)
      return;
    this.post({
      type: 'stats',
      index: this.o.index,
      counts: this.counts,
      drops: this.drops,
      latency: this.latency.state(),
    });
    this.counts = {};
    this.drops = {};
    this.latency = new LatencyHistogram();
  }

  /** Stops receiving; everything held or in flight is counted as shutdown. */
  close(): void {
    if (this.closed) return;
    this.flushSends();
    this.closed = true;
    clearInterval(this.statsTimer);
    this.socket.close();
    const discarded = this.scheduler.close().length + this.backlog.length + this.replay.abandon();
    this.backlog = [];
    if (discarded > 0) this.drop('shutdown', discarded);
    this.flushDeliveries();
    this.report();
    this.post({ type: 'closed', index: this.o.index, discarded });
  }
}

function readUint32LE(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

// ---- thread entry --------------------------------------------------------------------------------------

if (parentPort && (workerData as { shard?: ShardWorkerInit } | undefined)?.shard) {
  const port = parentPort;
  const init = (workerData as { shard: ShardWorkerInit }).shard;
  if (init.nice > 0 && process.platform === 'linux') {
    try {
      setPriority(0, Math.min(19, getPriority(0) + init.nice));
    } catch {
      // Not permitted: this worker runs at the main thread's priority.
    }
  }
  try {
    const worker = new ShardWorker(init, (m, transfer) => port.postMessage(m, transfer ?? []));
    port.on('message', (m: MainToShard) => worker.onMessage(m));
    port.postMessage({ type: 'ready', index: init.index } satisfies ShardToMain);
  } catch (err) {
    port.postMessage({ type: 'error', message: (err as Error)?.message ?? String(err) } satisfies ShardToMain);
  }
}
