/**
 * The replay gate of the sharded packet path: is each packet's replay tag fresh under its key epoch?
 * (Sphinx §3 / Loopix §2.2: a replayed packet is dropped.) Workers ask it once per batch through this small
 * interface, so the filter behind it can change without touching the path:
 *
 *  - `remoteReplayGate` (today): the worker posts the batch's tags (16 bytes per packet) to the main thread,
 *    which checks them against the node's persistent per-epoch filter (src/node/epochs.ts, src/node/replay.ts:
 *    one filter for all workers, so a packet replayed to another worker of the same node is still caught, and
 *    its log written before the batch's packets can leave) and answers with one byte per packet. The batch
 *    waits for the answer; one message each way per batch.
 *  - a filter in shared memory checked in the worker itself answers synchronously through the same call.
 */

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
  /** The main thread's answer to a remote request. */
  resolve(id: number, verdicts: Uint8Array): void;
  /** Forgets outstanding requests (shutdown); returns how many packets they held. */
  abandon(): number;
}

export interface ReplayRequest {
  readonly type: 'replay';
  readonly id: number;
  readonly epochs: Uint16Array;
  readonly tags: Uint8Array;
  readonly count: number;
}

/** The gate as a request to the main thread (see above). */
export function remoteReplayGate(post: (m: ReplayRequest, transfer: ArrayBuffer[]) => void): ReplayGate {
  const waiting = new Map<number, { count: number; done: (v: Uint8Array) => void }>();
  let next = 1;
  return {
    check(epochs, tags, count, done) {
      const id = next++;
      waiting.set(id, { count, done });
      post({ type: 'replay', id, epochs, tags, count }, [epochs.buffer as ArrayBuffer, tags.buffer as ArrayBuffer]);
    },
    resolve(id, verdicts) {
      const w = waiting.get(id);
      if (!w) return;
      waiting.delete(id);
      w.done(verdicts);
    },
    abandon() {
      let n = 0;
      for (const w of waiting.values()) n += w.count;
      waiting.clear();
      return n;
    },
  };
}
