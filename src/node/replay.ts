/**
 * Replay filter (Sphinx, Danezis–Goldberg 2009 §3; Loopix §2.2 "replay"; docs/pipeline.md "Replay filter").
 * Every successful unwrap yields a replay tag derived from the hop's shared secret; the same packet replayed
 * to the same node under the same key gives the same tag, and is dropped ("replay").
 *
 * One Bloom filter per key epoch (src/node/bloom.ts, bits in a SharedArrayBuffer with atomic test-and-set,
 * so worker threads can share it), sized once for the epoch's whole life from the node's maximum unwrap
 * rate (src/node/replay-capacity.ts): capacity = R × (key lifetime + burst), at a configured false-positive
 * rate (default 10⁻⁶ when full). Memory is bounded by construction: at most three epochs are live.
 *
 * It cannot be exhausted: an epoch's filter admits at most R × (seconds since the epoch began + burst) tags
 * (the "budget"), which stays below the capacity until the key retires. A tag over the budget is dropped as
 * `replay_budget` — the node was sent more than it can unwrap; nothing is forgotten and no key is retired.
 * The node alerts (metric `replay_fill_alerts`, gauge `replay_fill_fraction`, a log line) when a filter
 * passes 50 %, 75 % and 90 % of its capacity. Should a filter nevertheless reach capacity (a clock that
 * jumped back, keys that never rotate and a static window that ended), it fails closed: new tags are
 * dropped as `replay_filter_full`, the key stays live and the filter is never reset — a full filter costs
 * availability, never replay protection. (`replay.unsafeResetWhenFull`, for benchmarks only, empties it.)
 *
 * Persisted through src/node/replay-store.ts (snapshot + log), restored on restart.
 */
import { REPLAY_FILTER_TAG_BYTES as TAG_BYTES } from '../geometry.js';
import { BloomFilter, bloomFalsePositiveRate, bloomSize, type BloomSize } from './bloom.js';
import { REPLAY_BURST_S } from './replay-capacity.js';
import type { ReplayStore } from './replay-store.js';

/** Default false-positive rate of a full filter. */
export const DEFAULT_REPLAY_FP_RATE = 1e-6;
/** Fill fractions at which the node alerts operators (once each per epoch). */
export const REPLAY_ALERT_FRACTIONS = [0.5, 0.75, 0.9] as const;

/** Why `checkAt` refused a tag. */
export type ReplayVerdict = true | 'replay' | 'replay_budget' | 'replay_filter_full';

export interface ReplayFilterOptions {
  /** Designed number of tags per epoch. */
  readonly capacity: number;
  /** False-positive rate when `capacity` tags are in. */
  readonly fpRate?: number;
  /** Persistence; absent: in memory only (tests, benchmarks). */
  readonly store?: ReplayStore;
  /**
   * The budget: maximum tags per second (R), and when each epoch's key began to be used (Unix ms; NaN when
   * keys do not rotate: then the filter's first opening, less the restored tags' share). Absent: no budget.
   */
  readonly ratePps?: number;
  readonly epochStartMs?: (epoch: number) => number;
  readonly now?: () => number;
  readonly onAlert?: (epoch: number, fraction: number, inserted: number) => void;
  readonly onFull?: (epoch: number) => void;
  /** Start-up restore report. */
  readonly onRestore?: (epoch: number, info: { fromSnapshot: boolean; logTags: number; inserted: number }) => void;
}

interface EpochFilter {
  readonly filter: BloomFilter;
  /** Budget origin, Unix ms. */
  readonly startMs: number;
  /** Alerts given (index into REPLAY_ALERT_FRACTIONS). */
  alerted: number;
  full: boolean;
}

/** One live epoch's filter as plain data another thread can wrap (`new BloomFilter(size, words, counter)`). */
export interface SharedEpochFilter {
  readonly epoch: number;
  /** The bit array (SharedArrayBuffer). */
  readonly words: Uint32Array;
  /** The tag count and lock stripes (SharedArrayBuffer, src/node/bloom.ts). */
  readonly counter: Int32Array;
  /** Budget origin, Unix ms. */
  readonly startMs: number;
}

/** The sizing and budget of every epoch's filter. */
export interface SharedReplayParams {
  readonly capacity: number;
  readonly size: BloomSize;
  /** R, tags/s; undefined: no budget. */
  readonly ratePps: number | undefined;
}

/**
 * Tags a filter admits at `nowMs`: min(capacity, R × (seconds since `startMs` + REPLAY_BURST_S)), or the
 * capacity when there is no budget (`ratePps` undefined).
 */
export function replayLimit(capacity: number, ratePps: number | undefined, startMs: number, nowMs: number): number {
  if (ratePps === undefined) return capacity;
  const elapsedS = Math.max(0, (nowMs - startMs) / 1000);
  return Math.min(capacity, Math.floor(ratePps * (elapsedS + REPLAY_BURST_S)));
}

/**
 * The admission rule every thread applies to one tag (16 bytes at `bytes[offset..]`): `true` (fresh, now in
 * the filter), 'replay', 'replay_budget', or 'full' (at capacity: the caller decides between failing closed
 * and the benchmark-only reset). A filter at its limit adds nothing; a tag already in it is still called a
 * replay there (the more precise reason).
 */
export function admitTag(
  filter: BloomFilter,
  limit: number,
  capacity: number,
  bytes: Uint8Array,
  offset: number,
): true | 'replay' | 'replay_budget' | 'full' {
  const n = filter.inserted;
  if (n >= limit) {
    if (filter.hasAt(bytes, offset)) return 'replay';
    return n < capacity ? 'replay_budget' : 'full';
  }
  return filter.addAt(bytes, offset) ? true : 'replay';
}

export class ReplayFilter {
  readonly capacity: number;
  readonly fpRate: number;
  readonly size: BloomSize;
  private readonly epochs = new Map<number, EpochFilter>();
  private readonly o: ReplayFilterOptions;
  private readonly now: () => number;
  /** The next alert threshold in tags (index = EpochFilter.alerted). */
  private readonly thresholds: number[];

  constructor(o: ReplayFilterOptions | number) {
    this.o = typeof o === 'number' ? { capacity: o } : o;
    const { capacity } = this.o;
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`replay capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.fpRate = this.o.fpRate ?? DEFAULT_REPLAY_FP_RATE;
    this.size = bloomSize(capacity, this.fpRate);
    this.now = this.o.now ?? Date.now;
    this.thresholds = REPLAY_ALERT_FRACTIONS.map((f) => Math.ceil(f * capacity));
  }

  /** Bytes of memory one epoch's filter takes. */
  get bytesPerEpoch(): number {
    return this.size.bits / 8;
  }

  /** Loads (or creates) `epoch`'s filter now rather than at its first packet (start-up restore). */
  open(epoch: number): void {
    this.filterOf(epoch);
  }

  /** Records `tag` for `epoch`; returns false when it was not fresh (see checkAt). Never throws. */
  check(epoch: number, tag: Uint8Array): boolean {
    const padded = tag.length >= TAG_BYTES ? tag : Uint8Array.from({ length: TAG_BYTES }, (_, i) => tag[i] ?? 0);
    return this.checkAt(epoch, padded, 0) === true;
  }

  /**
   * The same for the 16 bytes at `bytes[offset..]` (the hot path reads the tag straight from a worker's
   * record buffer; the caller guarantees 16 bytes are there): true, or why the packet must be dropped. A
   * fresh tag is staged for the log; the caller flushes once per batch, before the batch's packets leave.
   */
  checkAt(epoch: number, bytes: Uint8Array, offset: number): ReplayVerdict {
    const e = this.filterOf(epoch);
    const limit = this.limitOf(e);
    let v = admitTag(e.filter, limit, this.capacity, bytes, offset);
    if (v === 'full') {
      this.noteFull(epoch, e);
      // onFull may have emptied the filter (benchmarks only: replay.unsafeResetWhenFull); then this tag is
      // admitted like any other, so a reset costs the benchmark no packet.
      if (e.filter.inserted >= limit) return 'replay_filter_full';
      v = e.filter.addAt(bytes, offset) ? true : 'replay';
    }
    if (v !== true) return v;
    this.o.store?.stage(epoch, bytes, offset);
    this.alertUpTo(epoch, e, e.filter.inserted);
    return true;
  }

  /**
   * Stages a tag that another thread already admitted into `epoch`'s shared filter (the sharded path's
   * workers check in place and send their fresh tags here to be logged). Flush as for checkAt.
   */
  stageAdmitted(epoch: number, bytes: Uint8Array, offset: number): void {
    if (this.epochs.has(epoch)) this.o.store?.stage(epoch, bytes, offset);
  }

  /**
   * Alerts and the full notice for filters that other threads fill (the sharded path): call periodically. The
   * pool path's checkAt gives them at once; here they come at most one period late.
   */
  poll(): void {
    for (const [epoch, e] of this.epochs) {
      const n = e.filter.inserted;
      this.alertUpTo(epoch, e, n);
      if (n >= this.capacity) this.noteFull(epoch, e);
    }
  }

  /** What a worker thread needs to check tags against the live filters itself (plain data, shared memory). */
  sharedEpochs(): SharedEpochFilter[] {
    return [...this.epochs].map(([epoch, e]) => ({
      epoch,
      words: e.filter.words,
      counter: e.filter.counter,
      startMs: e.startMs,
    }));
  }

  /** The sizing and budget the shared filters follow (for worker threads, with sharedEpochs()). */
  get sharedParams(): SharedReplayParams {
    return { capacity: this.capacity, size: this.size, ratePps: this.o.ratePps };
  }

  private noteFull(epoch: number, e: EpochFilter): void {
    if (e.full) return;
    e.full = true;
    this.o.onFull?.(epoch);
  }

  private alertUpTo(epoch: number, e: EpochFilter, n: number): void {
    while (e.alerted < this.thresholds.length && n >= this.thresholds[e.alerted]!) {
      const fraction = REPLAY_ALERT_FRACTIONS[e.alerted]!;
      e.alerted++;
      this.o.onAlert?.(epoch, fraction, n);
    }
  }

  /** Tags `epoch`'s filter admits now: min(capacity, budget). */
  private limitOf(e: EpochFilter): number {
    return replayLimit(this.capacity, this.o.ratePps, e.startMs, this.now());
  }

  /** Writes the staged tags to the log (one write per epoch). Throws when the write fails (see ReplayStore). */
  flush(): void {
    this.o.store?.flush();
  }

  /** Snapshots every live epoch's filter (periodically and at shutdown). */
  async snapshot(): Promise<void> {
    const store = this.o.store;
    if (!store) return;
    for (const [epoch, e] of this.epochs) await store.snapshot(epoch, e.filter);
  }

  /** Forgets every epoch except those listed (their keys were retired), on disk too. */
  retainEpochs(epochs: readonly number[]): void {
    for (const epoch of [...this.epochs.keys()]) {
      if (epochs.includes(epoch)) continue;
      this.epochs.delete(epoch);
      this.o.store?.forget(epoch);
    }
  }

  /** Empties `epoch`'s filter (benchmarks only: replay.unsafeResetWhenFull). */
  reset(epoch: number): void {
    const e = this.epochs.get(epoch);
    if (!e) return;
    e.filter.clear();
    e.alerted = 0;
    e.full = false;
  }

  /** Tags in `epoch`'s filter. */
  count(epoch: number): number {
    return this.epochs.get(epoch)?.filter.inserted ?? 0;
  }

  /** The shared memory of `epoch`'s filter (for worker threads: new BloomFilter(size, words, counter)). */
  shared(epoch: number): { readonly words: Uint32Array; readonly counter: Int32Array } | undefined {
    const f = this.epochs.get(epoch)?.filter;
    return f ? { words: f.words, counter: f.counter } : undefined;
  }

  /** The false-positive probability of `epoch`'s filter now. */
  falsePositiveRate(epoch: number): number {
    return bloomFalsePositiveRate(this.size, this.count(epoch));
  }

  get liveEpochs(): number[] {
    return [...this.epochs.keys()].sort((a, b) => a - b);
  }

  close(): void {
    this.o.store?.close();
  }

  private filterOf(epoch: number): EpochFilter {
    let e = this.epochs.get(epoch);
    if (e) return e;
    let filter: BloomFilter;
    if (this.o.store) {
      const r = this.o.store.load(epoch, this.size);
      filter = r.filter;
      this.o.onRestore?.(epoch, { fromSnapshot: r.fromSnapshot, logTags: r.logTags, inserted: r.filter.inserted });
    } else filter = new BloomFilter(this.size);
    const scheduled = this.o.epochStartMs?.(epoch) ?? NaN;
    // Keys that do not rotate: the budget runs from now, less what the restored tags already used.
    const startMs =
      scheduled === scheduled
        ? scheduled
        : this.now() - (this.o.ratePps ? (filter.inserted / this.o.ratePps) * 1000 : 0);
    // A restored filter already past some thresholds alerts again at its next tag (operators see it after a restart).
    e = { filter, startMs, alerted: 0, full: false };
    this.epochs.set(epoch, e);
    return e;
  }
}
