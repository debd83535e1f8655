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
import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { trustOf } from '../directory/config.js';
import type { NodeConfig } from '../config/schema.js';
import { loadTopologyFile, TopologyIndex } from '../topology/document.js';
import { EpochKeyring, prefixEpoch, type EpochRejection } from './epoch-keys.js';
import { loadNodeKeyFile, type EpochKeyPair } from './keys.js';
import type { NodeMetrics } from './metrics.js';
import { ReplayFilter } from './replay.js';
import { ReplayStore } from './replay-store.js';

const TICK_MS = 1000;

/** Tags per epoch filter: line rate × (epoch length + grace), or × staticWindowS when keys do not rotate. */
export function replayCapacity(config: NodeConfig, topology: TopologyIndex): number {
  const windowS = topology.doc.epochLengthS !== undefined ? topology.doc.epochLengthS + config.epochs.graceS : config.replay.staticWindowS;
  return Math.max(1024, Math.ceil(config.replay.lineRatePps * windowS));
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
}

export class EpochStage {
  readonly keyring: EpochKeyring;
  readonly replay: ReplayFilter;
  private topology: TopologyIndex;
  private readonly timers: NodeJS.Timeout[] = [];
  private topologyMtimeMs = 0;
  private keyMtimeMs = 0;
  private snapshotting = false;
  private closed = false;

  constructor(private readonly o: EpochStageOptions) {
    const { config, topology, log, metrics } = o;
    this.topology = topology;
    this.keyring = new EpochKeyring({ keys: o.keys, topology, graceS: config.epochs.graceS });
    const store = config.replay.persist && o.stateDir ? new ReplayStore(o.stateDir, config.replay.fsyncIntervalMs) : undefined;
    this.replay = new ReplayFilter({
      capacity: replayCapacity(config, topology),
      fpRate: config.replay.falsePositiveRate,
      store,
      onNearFull: (epoch, inserted) => {
        metrics.count('replay_near_full');
        if (config.replay.unsafeResetWhenFull) return;
        log.warn({ epoch, inserted, capacity: this.replay.capacity }, 'replay filter at 90 % of capacity: traffic is above replay.lineRatePps; the key will be retired early when it is full');
      },
      onFull: (epoch) => {
        if (config.replay.unsafeResetWhenFull) {
          metrics.count('replay_resets');
          this.replay.reset(epoch);
          return;
        }
        metrics.count('keys_retired_early');
        log.error({ epoch, capacity: this.replay.capacity }, 'replay filter full: retiring this epoch key early (its packets are dropped as key_expired) rather than forgetting tags');
        this.keyring.retireEarly(epoch);
      },
      onRestore: (epoch, info) => log.info({ epoch, ...info }, info.fromSnapshot || info.logTags > 0 ? 'replay filter restored' : 'replay filter started empty'),
    });
    const change = this.keyring.tick(Date.now());
    // Open (restore) every live epoch's filter now: a corrupt or mis-sized snapshot stops start-up with a
    // clear error instead of surfacing on the packet path.
    for (const epoch of change.installed) this.replay.open(epoch);
    // State of epochs whose keys are gone can never matter again.
    if (store) for (const epoch of store.epochsOnDisk()) if (!this.keyring.liveEpochs.includes(epoch)) store.forget(epoch);
    if (this.keyring.liveEpochs.length === 0) log.error({ epoch: change.current, stored: this.keyring.storedEpochs }, 'no key for the current epoch: every packet is dropped (add keys to the key file)');
    if (config.replay.unsafeResetWhenFull) log.warn('replay.unsafeResetWhenFull is set: full replay filters are emptied, so replays pass after each reset (benchmarks only)');
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
  }

  /** Packet path, before crypto: the full epoch of a live key, or the drop reason. */
  readonly resolve = (epoch16: number): number | EpochRejection => this.keyring.resolve(epoch16);

  /**
   * Packet path, after crypto: records the tag at `records[tagOffset..]` under the key epoch named by the
   * packet's prefix at `packets[packetOffset..]`. True: fresh. Otherwise the drop reason.
   */
  checkTag(packets: Uint8Array, packetOffset: number, records: Uint8Array, tagOffset: number): true | 'replay' | EpochRejection {
    const epoch = this.keyring.resolve(prefixEpoch(packets, packetOffset));
    if (typeof epoch !== 'number') return epoch; // retired while the packet was in the crypto stage
    return this.replay.checkAt(epoch, records, tagOffset) ? true : 'replay';
  }

  /** Writes the batch's new tags to the replay log (once per batch, before its packets are scheduled). */
  flush(): void {
    try {
      this.replay.flush();
    } catch (err) {
      this.o.metrics.count('replay_log_errors');
      this.o.log.error({ err: (err as Error).message }, 'could not append to the replay log');
    }
  }

  /** Current epoch's filter: tags, capacity and false-positive rate (gauges). */
  registerGauges(m: NodeMetrics): void {
    m.gauge('key_epoch', () => this.keyring.current);
    m.gauge('key_epochs_live', () => this.keyring.liveEpochs.length);
    m.gauge('replay_tags', () => this.replay.count(this.keyring.current));
    m.gauge('replay_capacity', () => this.replay.capacity);
    m.gauge('replay_fp_rate', () => Number(this.replay.falsePositiveRate(this.keyring.current).toPrecision(3)));
    m.gauge('replay_filter_mb', () => Math.round((this.replay.bytesPerEpoch * this.replay.liveEpochs.length) / 104857.6) / 10);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    try {
      this.replay.flush();
      await this.replay.snapshot();
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'final replay-filter snapshot failed (the log still covers it)');
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
        this.o.log.error({ epoch, err: (err as Error).message }, 'cannot open the replay filter for this epoch: its key is not used');
        this.keyring.retireEarly(epoch);
      }
    }
    if (change.installed.length > 0 || change.retired.length > 0) {
      this.replay.retainEpochs(this.keyring.liveEpochs);
      this.o.metrics.count('key_changes', change.installed.length + change.retired.length);
      this.o.log.info({ epoch: change.current, installed: change.installed, retired: change.retired, live: this.keyring.liveEpochs }, 'key epochs changed');
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
        if (file.kind === 'epochs') this.keyring.addKeys(file.keys);
      }
      const topoMtime = statSync(config.topologyFile).mtimeMs;
      if (topoMtime === this.topologyMtimeMs) return;
      this.topologyMtimeMs = topoMtime;
      const next = new TopologyIndex(loadTopologyFile(config.topologyFile, trustOf(config)));
      if (next.doc.epoch < this.topology.doc.epoch || next.fingerprint === this.topology.fingerprint) return;
      const self = next.node(this.o.selfId);
      if (!self) throw new Error(`node ${this.o.selfId} is not in the new topology`);
      for (const [epoch, key] of [[next.doc.epoch, self.publicKey], [next.doc.epoch + 1, self.nextPublicKey]] as const) {
        const mine = this.keyring.publicKeyHex(epoch);
        if (key !== undefined && mine !== undefined && mine !== key) throw new Error(`the document's key for epoch ${epoch} is ${key}, the key file's is ${mine}`);
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

  private rememberMtimes(): void {
    try {
      this.keyMtimeMs = statSync(this.o.config.keyFile).mtimeMs;
      this.topologyMtimeMs = statSync(this.o.config.topologyFile).mtimeMs;
    } catch {
      // in-process tests may have no files; refresh() then logs once per attempt
    }
  }
}
