/**
 * The node's key-epoch stage: its live keys (src/node/epoch-keys.ts), one replay filter per live key
 * (src/node/replay.ts, persisted by src/node/replay-store.ts), and the timers that move them along:
 *
 *  - every second: the epoch clock (install the next key at its boundary, retire the previous one when its
 *    grace window ends — its replay filter and files go with it);
 *  - every `epochs.refreshS`: re-read the topology file and the key file, adopt a newer signed document
 *    (the directory publishes each epoch's document with that epoch's and the next epoch's keys) and new
 *    keys the operator added to the key store;
 *  - every `replay.snapshotIntervalS`: snapshot the replay filters.
 *
 * The pipeline asks it two things on the packet path, neither of which throws: is a prefix epoch live
 * (`resolve`, before crypto), and is a replay tag fresh under that epoch's key (`checkTag`, after crypto).
 */
import { existsSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { trustOf } from '../directory/config.js';
import type { NodeConfig } from '../config/schema.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import { EpochKeyring, prefixEpoch, type EpochRejection } from './epoch-keys.js';
import { loadNodeKeyFile, pruneKeyFile, wipeKeys, type EpochKeyPair } from './keys.js';
import type { NodeMetrics } from './metrics.js';
import { ReplayFilter, type ReplayVerdict } from './replay.js';
import { REPLAY_BURST_S, replayCapacityFor } from './replay-capacity.js';
import { ReplayStore, type ReplayFs } from './replay-store.js';

const TICK_MS = 1000;

/** How often the fill of filters that worker threads share is checked for alerts, ms. */
const REPLAY_POLL_MS = 1000;

/** How long one key is used, s: epoch length + grace, or replay.staticWindowS when keys do not rotate. */
export function replayWindowS(config: NodeConfig, topology: TopologyIndex): number {
  return topology.doc.epochLengthS !== undefined
    ? topology.doc.epochLengthS + config.epochs.graceS
    : config.replay.staticWindowS;
}

export interface EpochStageOptions {
  readonly config: NodeConfig;
  readonly topology: TopologyIndex;
  readonly keys: readonly EpochKeyPair[];
  /** This node's id: a refreshed document must still list it with the keys the key store holds. */
  readonly selfId: string;
  /** Resolved state directory (src/node/startup.ts); undefined: replay filter in memory only. */
  readonly stateDir: string | undefined;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  /** A newer topology document was adopted (the loop emitter needs the new keys). */
  readonly onTopology?: (topology: TopologyIndex) => void;
  /**
   * The node's maximum unwrap rate R, packets/s (src/node/replay-capacity.ts resolveMaxRate); the filters are
   * sized for it and admit no more. Absent: replay.maxRatePps when it is a number, else 1000.
   */
  readonly maxRatePps?: number;
  /** File operations of the replay log (tests inject write errors). */
  readonly replayFs?: ReplayFs;
}

export class EpochStage {
  readonly keyring: EpochKeyring;
  readonly replay: ReplayFilter;
  /** R: the rate the replay filters are sized for and admit, packets/s. */
  readonly maxRatePps: number;
  /** Whether the replay filters are persisted (a log to write before packets leave). */
  readonly persistent: boolean;
  private topology: TopologyIndex;
  private readonly timers: NodeJS.Timeout[] = [];
  private topologyMtimeMs = 0;
  private keyMtimeMs = 0;
  private snapshotting = false;
  private closed = false;
  /** The last replay-log append failed (for one log line per outage). */
  private logFailing = false;
  private readonly changeListeners: (() => void)[] = [];

  constructor(private readonly o: EpochStageOptions) {
    const { config, topology, log, metrics } = o;
    this.topology = topology;
    this.keyring = new EpochKeyring({ keys: o.keys, topology, graceS: config.epochs.graceS });
    const store =
      config.replay.persist && o.stateDir
        ? new ReplayStore(o.stateDir, config.replay.fsyncIntervalMs, o.replayFs)
        : undefined;
    this.persistent = store !== undefined;
    let rate = o.maxRatePps ?? (typeof config.replay.maxRatePps === 'number' ? config.replay.maxRatePps : 1000);
    const windowS = replayWindowS(config, topology);
    let capacity = replayCapacityFor(rate, windowS);
    // The memory cap: a smaller filter admits proportionally fewer tags per second, so it still cannot fill early.
    const bitsPerTag = -Math.log(config.replay.falsePositiveRate) / Math.LN2 ** 2;
    const maxTags = Math.floor((config.replay.maxFilterMB * 8 * 1048576) / bitsPerTag);
    if (capacity > maxTags) {
      const wanted = rate;
      capacity = maxTags;
      rate = maxTags / (windowS + REPLAY_BURST_S);
      log.warn(
        {
          maxRatePps: wanted,
          admittedPps: Math.floor(rate),
          maxFilterMB: config.replay.maxFilterMB,
          keyLifetimeS: windowS,
        },
        'replay filter capped by replay.maxFilterMB: it admits fewer tags per second than the node can unwrap (shorter key epochs or a larger cap raise it)',
      );
    }
    this.maxRatePps = rate;
    const unsafe = config.replay.unsafeResetWhenFull;
    this.replay = new ReplayFilter({
      capacity,
      fpRate: config.replay.falsePositiveRate,
      store,
      // Benchmarks cycle a fixed pool through a small filter that is emptied when full: no budget there.
      ...(unsafe ? {} : { ratePps: rate, epochStartMs: (epoch: number) => this.topology.epochStart(epoch) }),
      onAlert: (epoch, fraction, inserted) => {
        metrics.count('replay_fill_alerts');
        if (unsafe) return;
        log.warn(
          { epoch, inserted, capacity: this.replay.capacity, fraction, maxRatePps: rate },
          `replay filter of epoch ${epoch} at ${Math.round(fraction * 100)} % of its capacity: packets beyond it will be dropped (replay_filter_full) until the key rotates — rotate keys sooner, or raise replay.maxRatePps`,
        );
      },
      onFull: (epoch) => {
        if (unsafe) {
          metrics.count('replay_resets');
          this.replay.reset(epoch);
          return;
        }
        metrics.count('replay_filters_full');
        log.error(
          { epoch, capacity: this.replay.capacity },
          'replay filter full: new packets under this key are dropped (replay_filter_full); the key stays live and no tag is forgotten',
        );
      },
      onRestore: (epoch, info) =>
        log.info(
          { epoch, ...info },
          info.fromSnapshot || info.logTags > 0 ? 'replay filter restored' : 'replay filter started empty',
        ),
    });
    const change = this.keyring.tick(Date.now());
    // Open (restore) every live epoch's filter now: a corrupt or mis-sized snapshot stops start-up with a
    // clear error instead of surfacing on the packet path.
    for (const epoch of change.installed) this.replay.open(epoch);
    // State of epochs whose keys are gone can never matter again. State of an epoch AHEAD of our clock is
    // kept: it means the clock went back (start-up refuses a clock off by more than the grace window,
    // src/node/clock.ts), and deleting it would let replays of that epoch pass.
    if (store)
      for (const epoch of store.epochsOnDisk())
        if (!this.keyring.liveEpochs.includes(epoch) && epoch <= change.current + 1) store.forget(epoch);
    if (this.keyring.liveEpochs.length === 0)
      log.error(
        { epoch: change.current, stored: this.keyring.storedEpochs },
        'no key for the current epoch: every packet is dropped (add keys to the key file)',
      );
    if (config.replay.unsafeResetWhenFull)
      log.warn(
        'replay.unsafeResetWhenFull is set: full replay filters are emptied, so replays pass after each reset (benchmarks only)',
      );
    this.pruneKeyFile();
    this.rememberMtimes();
  }

  get currentEpoch(): number {
    return this.keyring.current;
  }

  start(): void {
    const every = (ms: number, f: () => void) => {
      const t = setInterval(f, ms);
      t.unref();
      this.timers.push(t);
    };
    every(TICK_MS, () => this.tick());
    every(this.o.config.epochs.refreshS * 1000, () => this.refresh());
    every(this.o.config.replay.snapshotIntervalS * 1000, () => void this.snapshot());
    // Alerts for filters that worker threads fill (the sharded path); the pool path alerts at once.
    every(REPLAY_POLL_MS, () => this.replay.poll());
  }

  /** Calls `f` after every change of the live keys, and so of the live replay filters (sharded workers). */
  onKeysChanged(f: () => void): void {
    this.changeListeners.push(f);
  }

  /** Packet path, before crypto: the full epoch of a live key, or the drop reason. */
  readonly resolve = (epoch16: number): number | EpochRejection => this.keyring.resolve(epoch16);

  /**
   * Packet path, after crypto: records the tag at `records[tagOffset..]` under the key epoch named by the
   * packet's prefix at `packets[packetOffset..]`. True: fresh. Otherwise the drop reason.
   */
  checkTag(
    packets: Uint8Array,
    packetOffset: number,
    records: Uint8Array,
    tagOffset: number,
  ): ReplayVerdict | EpochRejection {
    const epoch = this.keyring.resolve(prefixEpoch(packets, packetOffset));
    if (typeof epoch !== 'number') return epoch; // retired while the packet was in the crypto stage
    return this.replay.checkAt(epoch, records, tagOffset);
  }

  /**
   * Writes the batch's new tags to the replay log (once per batch, before any of its packets leaves). False
   * when the write failed: the caller must drop the batch's fresh packets (replay_log_error). Logged once
   * per outage, and once when writes succeed again.
   */
  flush(): boolean {
    try {
      this.replay.flush();
      if (this.logFailing) {
        this.logFailing = false;
        this.o.log.warn('replay log writable again: forwarding resumed');
      }
      return true;
    } catch (err) {
      this.o.metrics.count('replay_log_errors');
      if (!this.logFailing) {
        this.logFailing = true;
        this.o.log.error(
          { err: (err as Error).message },
          'could not append to the replay log: packets whose tags are not durable are dropped (replay_log_error) until it is writable again',
        );
      }
      return false;
    }
  }

  /** Current epoch's filter: tags, capacity and false-positive rate (gauges). */
  registerGauges(m: NodeMetrics): void {
    m.gauge('key_epoch', () => this.keyring.current);
    m.gauge('key_epochs_live', () => this.keyring.liveEpochs.length);
    m.gauge('replay_tags', () => this.replay.count(this.keyring.current));
    m.gauge('replay_capacity', () => this.replay.capacity);
    m.gauge('replay_max_rate_pps', () => this.maxRatePps);
    m.gauge(
      'replay_fill_fraction',
      () => Math.round((this.replay.count(this.keyring.current) / this.replay.capacity) * 1e4) / 1e4,
    );
    m.gauge('replay_fp_rate', () => Number(this.replay.falsePositiveRate(this.keyring.current).toPrecision(3)));
    m.gauge(
      'replay_filter_mb',
      () => Math.round((this.replay.bytesPerEpoch * this.replay.liveEpochs.length) / 104857.6) / 10,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    try {
      this.replay.flush();
      await this.replay.snapshot();
    } catch (err) {
      this.o.log.error(
        { err: (err as Error).message },
        'final replay-filter snapshot failed (the log still covers it)',
      );
    }
    this.replay.close();
    this.keyring.destroy();
  }

  /** The epoch clock: install / retire keys, keep the replay filters in step. */
  tick(nowMs = Date.now()): void {
    if (this.closed) return;
    const change = this.keyring.tick(nowMs);
    for (const epoch of change.installed) {
      try {
        this.replay.open(epoch);
      } catch (err) {
        // A damaged filter for a key we are about to use: refuse the key rather than accept replays.
        this.o.log.error(
          { epoch, err: (err as Error).message },
          'cannot open the replay filter for this epoch: its key is not used',
        );
        this.keyring.retireEarly(epoch);
      }
    }
    if (change.retired.length > 0) this.pruneKeyFile();
    if (change.installed.length > 0 || change.retired.length > 0) {
      this.replay.retainEpochs(this.keyring.liveEpochs);
      this.o.metrics.count('key_changes', change.installed.length + change.retired.length);
      this.o.log.info(
        { epoch: change.current, installed: change.installed, retired: change.retired, live: this.keyring.liveEpochs },
        'key epochs changed',
      );
      for (const f of this.changeListeners) f();
    }
  }

  /** Re-reads the topology and key files when they changed. Errors are logged; the node keeps its state. */
  refresh(): void {
    if (this.closed) return;
    const { config, log } = this.o;
    try {
      const keyMtime = statSync(config.keyFile).mtimeMs;
      if (keyMtime !== this.keyMtimeMs) {
        this.keyMtimeMs = keyMtime;
        const file = loadNodeKeyFile(config.keyFile);
        if (file.kind === 'epochs') this.keyring.addKeys(file.keys); // the keyring keeps its own copies
        wipeKeys(file.kind === 'epochs' ? file.keys : [file.key]);
      }
      const topoMtime = statSync(config.topologyFile).mtimeMs;
      if (topoMtime === this.topologyMtimeMs) return;
      this.topologyMtimeMs = topoMtime;
      const next = new TopologyIndex(loadTopologyFile(config.topologyFile, trustOf(config)));
      if (next.doc.epoch < this.topology.doc.epoch || next.fingerprint === this.topology.fingerprint) return;
      const self = next.node(this.o.selfId);
      if (!self) throw new Error(`node ${this.o.selfId} is not in the new topology`);
      for (const [epoch, key] of [
        [next.doc.epoch, self.publicKey],
        [next.doc.epoch + 1, self.nextPublicKey],
      ] as const) {
        const mine = this.keyring.publicKeyHex(epoch);
        if (key !== undefined && mine !== undefined && mine !== key)
          throw new Error(`the document's key for epoch ${epoch} is ${key}, the key file's is ${mine}`);
      }
      this.topology = next;
      this.keyring.setTopology(next);
      this.o.onTopology?.(next);
      this.o.metrics.count('topology_updates');
      log.info({ epoch: next.doc.epoch, issuedAt: next.doc.issuedAt }, 'adopted a newer topology document');
      this.tick();
    } catch (err) {
      this.o.metrics.count('topology_refresh_errors');
      log.error({ err: (err as Error).message }, 'topology/key refresh failed; keeping the current ones');
    }
  }

  private async snapshot(): Promise<void> {
    if (this.snapshotting || this.closed) return;
    this.snapshotting = true;
    try {
      await this.replay.snapshot();
    } catch (err) {
      this.o.metrics.count('replay_snapshot_errors');
      this.o.log.error({ err: (err as Error).message }, 'replay-filter snapshot failed (the log still covers it)');
    } finally {
      this.snapshotting = false;
    }
  }

  /** Removes retired epochs' keys from the key store on disk (src/node/keys.ts pruneKeyFile). Never throws. */
  private pruneKeyFile(): void {
    const keepFrom = Math.min(this.keyring.current, ...this.keyring.liveEpochs);
    if (!existsSync(this.o.config.keyFile)) return; // in-process nodes without a key file
    try {
      const removed = pruneKeyFile(this.o.config.keyFile, keepFrom);
      if (removed.length > 0) {
        this.o.log.info({ removed, file: this.o.config.keyFile }, 'removed retired keys from the key file');
        this.keyMtimeMs = statSync(this.o.config.keyFile).mtimeMs;
      }
    } catch (err) {
      this.o.metrics.count('key_file_prune_errors');
      this.o.log.error(
        { err: (err as Error).message, file: this.o.config.keyFile },
        'could not remove retired keys from the key file',
      );
    }
  }

  private rememberMtimes(): void {
    try {
      this.keyMtimeMs = statSync(this.o.config.keyFile).mtimeMs;
      this.topologyMtimeMs = statSync(this.o.config.topologyFile).mtimeMs;
    } catch {
      // in-process tests may have no files; refresh() then logs once per attempt
    }
  }
}
