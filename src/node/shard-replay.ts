/**
 * The replay gate of the sharded packet path: is each packet's replay tag fresh under its key epoch?
 * (Sphinx §3 / Loopix §2.2: a replayed packet is dropped.) Workers ask it once per batch through this small
 * interface:
 *
 *  - the check runs in the worker itself, against the node's one Bloom filter per live epoch in shared memory
 *    (src/node/bloom.ts: atomic test-and-set under a striped lock, so of two workers adding the same tag at
 *    once exactly one calls it fresh). A packet replayed to another worker of the same node is still caught,
 *    and the main thread does no per-packet work for it. The budget and capacity rules are the pool path's
 *    own (src/node/replay.ts `admitTag`, `replayLimit`).
 *  - persistence stays on the main thread, which owns the log files (disk writes off the forwarding threads):
 *    when the node persists its filter, the batch's fresh tags go to the main thread, which appends them to
 *    the epoch's log (one write(2) per batch) and answers ok or failed; the batch's packets leave only after a
 *    good answer (a tag that is not durable must not let its packet leave: after a crash the packet would be
 *    replayable). Without persistence the verdicts are given at once.
 *
 * Alerts at 50/75/90 % and the "filter full" notice come from the main thread's periodic poll of the shared
 * tag counts (ReplayFilter.poll).
 */
import { REPLAY_FILTER_TAG_BYTES as TAG_BYTES } from '../geometry.js';
import { BloomFilter } from './bloom.js';
import { admitTag, replayLimit, type SharedEpochFilter, type SharedReplayParams } from './replay.js';

/** Verdicts, one byte per packet. */
export const REPLAY_FRESH = 0;
export const REPLAY_SEEN = 1;
export const REPLAY_KEY_EXPIRED = 2;
export const REPLAY_WRONG_EPOCH = 3;
/** More tags than the node can unwrap in the epoch so far (src/node/replay.ts budget). */
export const REPLAY_BUDGET = 4;
/** The epoch's filter is full (fails closed). */
export const REPLAY_FILTER_FULL = 5;
/** The replay log could not be written: the batch's fresh packets may not leave (fail closed). */
export const REPLAY_LOG_ERROR = 6;
export type ReplayVerdict = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** The drop reason of a verdict other than REPLAY_FRESH. */
export const REPLAY_VERDICT_REASON = [
  'replay',
  'replay',
  'key_expired',
  'wrong_epoch',
  'replay_budget',
  'replay_filter_full',
  'replay_log_error',
] as const;

export interface ReplayGate {
  /**
   * Checks `count` tags (16 bytes each, back to back in `tags`) under the prefix epochs in `epochs`, records
   * the fresh ones, and calls `done` with one verdict per tag — now or later. Never throws.
   */
  check(epochs: Uint16Array, tags: Uint8Array, count: number, done: (verdicts: Uint8Array) => void): void;
  /** The main thread's answer to a log request: whether the tags are on disk. */
  logged(id: number, ok: boolean): void;
  /** Forgets outstanding requests (shutdown); returns how many packets they held. */
  abandon(): number;
}

/** A worker's request to log the fresh tags of one batch (full epoch numbers, 16-byte tags back to back). */
export interface ReplayLogRequest {
  readonly type: 'replayLog';
  readonly id: number;
  readonly epochs: Float64Array;
  readonly tags: Uint8Array;
  readonly count: number;
}

export interface LocalReplayGateOptions {
  readonly params: SharedReplayParams;
  /** The live filters now (replaced by setFilters when keys change). */
  readonly filters: readonly SharedEpochFilter[];
  /** Why a prefix epoch with no live filter is refused: REPLAY_KEY_EXPIRED or REPLAY_WRONG_EPOCH. */
  readonly rejection: (epoch16: number) => ReplayVerdict;
  /** Posts a log request to the main thread; absent: the filter is not persisted. */
  readonly persist?: (m: ReplayLogRequest, transfer: ArrayBuffer[]) => void;
  /** Benchmark-only (replay.unsafeResetWhenFull): empty a full filter, counted by `onReset`. */
  readonly resetWhenFull: boolean;
  readonly onReset: () => void;
  readonly now?: () => number;
}

interface LiveFilter {
  readonly epoch: number;
  readonly epoch16: number;
  readonly filter: BloomFilter;
  readonly startMs: number;
}

/** The gate a worker runs in place (see the top of this file). */
export class LocalReplayGate implements ReplayGate {
  private live: LiveFilter[] = [];
  private readonly waiting = new Map<number, { verdicts: Uint8Array; done: (v: Uint8Array) => void }>();
  private nextId = 1;
  private readonly now: () => number;

  constructor(private readonly o: LocalReplayGateOptions) {
    this.now = o.now ?? Date.now;
    this.setFilters(o.filters);
  }

  /** Adopts the live filters after a key change (the main thread posts them). */
  setFilters(filters: readonly SharedEpochFilter[]): void {
    this.live = filters.map((f) => ({
      epoch: f.epoch,
      epoch16: f.epoch & 0xffff,
      filter: new BloomFilter(this.o.params.size, f.words, f.counter),
      startMs: f.startMs,
    }));
  }

  check(epochs: Uint16Array, tags: Uint8Array, count: number, done: (verdicts: Uint8Array) => void): void {
    const { capacity, ratePps } = this.o.params;
    const verdicts = new Uint8Array(count);
    const now = this.now();
    const persist = this.o.persist;
    const freshEpochs = persist ? new Float64Array(count) : undefined;
    const freshTags = persist ? new Uint8Array(count * TAG_BYTES) : undefined;
    let fresh = 0;
    for (let i = 0; i < count; i++) {
      const f = this.filterOf(epochs[i]!);
      if (!f) {
        verdicts[i] = this.o.rejection(epochs[i]!);
        continue;
      }
      const offset = i * TAG_BYTES;
      const limit = replayLimit(capacity, ratePps, f.startMs, now);
      let v = admitTag(f.filter, limit, capacity, tags, offset);
      if (v === 'full' && this.o.resetWhenFull) {
        f.filter.clear();
        this.o.onReset();
        v = f.filter.addAt(tags, offset) ? true : 'replay';
      }
      if (v !== true) {
        verdicts[i] = v === 'replay' ? REPLAY_SEEN : v === 'replay_budget' ? REPLAY_BUDGET : REPLAY_FILTER_FULL;
        continue;
      }
      verdicts[i] = REPLAY_FRESH;
      if (freshEpochs && freshTags) {
        freshEpochs[fresh] = f.epoch;
        freshTags.set(tags.subarray(offset, offset + TAG_BYTES), fresh * TAG_BYTES);
      }
      fresh++;
    }
    if (!persist || !freshEpochs || !freshTags || fresh === 0) {
      done(verdicts);
      return;
    }
    const id = this.nextId++;
    this.waiting.set(id, { verdicts, done });
    persist({ type: 'replayLog', id, epochs: freshEpochs, tags: freshTags, count: fresh }, [
      freshEpochs.buffer,
      freshTags.buffer,
    ]);
  }

  logged(id: number, ok: boolean): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    // Fail closed: no fresh packet of the batch leaves when its tags are not durable.
    if (!ok)
      for (let i = 0; i < w.verdicts.length; i++) if (w.verdicts[i] === REPLAY_FRESH) w.verdicts[i] = REPLAY_LOG_ERROR;
    w.done(w.verdicts);
  }

  abandon(): number {
    let n = 0;
    for (const w of this.waiting.values()) n += w.verdicts.length;
    this.waiting.clear();
    return n;
  }

  private filterOf(epoch16: number): LiveFilter | undefined {
    for (const f of this.live) if (f.epoch16 === epoch16) return f;
    return undefined;
  }
}
