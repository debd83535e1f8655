/**
 * Replay filter (Sphinx, Danezis–Goldberg 2009 §3; Loopix §2.2 "replay"; docs/pipeline.md "Replay filter").
 * Every successful unwrap yields a replay tag derived from the hop's shared secret; the same packet replayed
 * to the same node under the same key gives the same tag, and is dropped ("replay").
 *
 * One Bloom filter per key epoch (src/node/bloom.ts), sized once for the epoch's whole life:
 * capacity = configured line rate × (epoch length + grace window), at a configured false-positive rate
 * (default 10⁻⁶ when full; a false positive drops one honest packet, counted as "replay"). Memory is bounded
 * by construction: at most three epochs are live (previous during the grace window, current, next).
 *
 * It never forgets a tag while its key is valid: there is no eviction. Persisted through src/node/replay-store.ts
 * (snapshot + log), restored on restart. When a filter nears capacity (traffic above the configured line
 * rate) the node warns; when it reaches capacity, `onFull` retires that epoch's key early (the pipeline
 * drops its packets as key_expired) instead of letting the false-positive rate climb or resetting the filter.
 */
import { REPLAY_FILTER_TAG_BYTES as TAG_BYTES } from '../geometry.js';
import { BloomFilter, bloomFalsePositiveRate, bloomSize, type BloomSize } from './bloom.js';
import type { ReplayStore } from './replay-store.js';

/** Default false-positive rate of a full filter. */
export const DEFAULT_REPLAY_FP_RATE = 1e-6;
/** Fraction of capacity at which the node warns that a filter is nearly full. */
export const NEAR_FULL_FRACTION = 0.9;

export interface ReplayFilterOptions {
  /** Designed number of tags per epoch. */
  readonly capacity: number;
  /** False-positive rate when `capacity` tags are in. */
  readonly fpRate?: number;
  /** Persistence; absent: in memory only (tests, benchmarks). */
  readonly store?: ReplayStore;
  readonly onNearFull?: (epoch: number, inserted: number) => void;
  readonly onFull?: (epoch: number) => void;
  /** Start-up restore report. */
  readonly onRestore?: (epoch: number, info: { fromSnapshot: boolean; logTags: number; inserted: number }) => void;
}

interface EpochFilter {
  readonly filter: BloomFilter;
  warned: boolean;
  full: boolean;
}

export class ReplayFilter {
  readonly capacity: number;
  readonly fpRate: number;
  readonly size: BloomSize;
  private readonly epochs = new Map<number, EpochFilter>();
  private readonly o: ReplayFilterOptions;

  constructor(o: ReplayFilterOptions | number) {
    this.o = typeof o === 'number' ? { capacity: o } : o;
    const { capacity } = this.o;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`replay capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.fpRate = this.o.fpRate ?? DEFAULT_REPLAY_FP_RATE;
    this.size = bloomSize(capacity, this.fpRate);
  }

  /** Bytes of memory one epoch's filter takes. */
  get bytesPerEpoch(): number {
    return this.size.bits / 8;
  }

  /** Loads (or creates) `epoch`'s filter now rather than at its first packet (start-up restore). */
  open(epoch: number): void {
    this.filterOf(epoch);
  }

  /** Records `tag` for `epoch`; returns false when it was already there (a replay). Never throws. */
  check(epoch: number, tag: Uint8Array): boolean {
    const padded = tag.length >= TAG_BYTES ? tag : Uint8Array.from({ length: TAG_BYTES }, (_, i) => tag[i] ?? 0);
    return this.checkAt(epoch, padded, 0);
  }

  /**
   * The same for the 16 bytes at `bytes[offset..]` (the hot path reads the tag straight from a worker's
   * record buffer; the caller guarantees 16 bytes are there). A fresh tag is staged for the log; the caller
   * flushes once per batch, before the batch's packets leave.
   */
  checkAt(epoch: number, bytes: Uint8Array, offset: number): boolean {
    const e = this.filterOf(epoch);
    if (!e.filter.addAt(bytes, offset)) return false;
    this.o.store?.stage(epoch, bytes, offset);
    const n = e.filter.inserted;
    if (!e.warned && n >= NEAR_FULL_FRACTION * this.capacity) {
      e.warned = true;
      this.o.onNearFull?.(epoch, n);
    }
    if (!e.full && n >= this.capacity) {
      e.full = true;
      this.o.onFull?.(epoch);
    }
    return true;
  }

  /** Writes the staged tags to the log (one write per epoch). */
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
    e.filter.words.fill(0);
    e.filter.inserted = 0;
    e.warned = false;
    e.full = false;
  }

  /** Tags in `epoch`'s filter. */
  count(epoch: number): number {
    return this.epochs.get(epoch)?.filter.inserted ?? 0;
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
    if (this.o.store) {
      const r = this.o.store.load(epoch, this.size);
      e = { filter: r.filter, warned: false, full: false };
      this.o.onRestore?.(epoch, { fromSnapshot: r.fromSnapshot, logTags: r.logTags, inserted: r.filter.inserted });
    } else {
      e = { filter: new BloomFilter(this.size), warned: false, full: false };
    }
    this.epochs.set(epoch, e);
    return e;
  }
}
