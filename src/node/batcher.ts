/**
 * Collects accepted packets into batches for the crypto stage: one worker task and one N-API call per batch
 * instead of per packet.
 *
 * Adaptive batching (the glue decides when to take a batch, src/node/pipeline.ts): while a crypto slot is
 * free, whatever arrived during the current event-loop turn is taken at the end of the turn (or after
 * `batchWaitMs`, when configured) — so at light load a packet waits for no one; while every slot is busy,
 * packets accumulate here, and the batch handed to the next free slot holds everything that arrived in the
 * meantime (up to `batchSize`; a full batch is handed on at once). Batches therefore grow with the load, and
 * the per-task cost (a message to and from a worker) is paid per batch, not per packet, exactly when it
 * matters. When several workers are idle, what is pending is split between them (`take(max)`), so a burst
 * is unwrapped in parallel instead of by one worker while the others wait.
 *
 * Each batch owns a fresh ArrayBuffer (packets are copied in, so the caller's datagram buffer is free
 * immediately), because the buffer is transferred to a worker and the unwrapped packets are later held by
 * the scheduler or the socket as views into it.
 */
import type { Geometry } from '../geometry.js';

export interface Batch {
  /** count · packetBytes bytes (trimmed to the packets present), transferable. */
  readonly buffer: ArrayBuffer;
  readonly count: number;
  /** Arrival time (performance.now(), ms) of each packet. */
  readonly arrivals: Float64Array;
  /**
   * Arrival of the first packet that found every crypto slot busy (performance.now(), ms), NaN when none
   * did: from then on the batch waited because of congestion, which is the delay the AQM controls.
   */
  readonly blockedSince: number;
}

export class Batcher {
  private buffer: Uint8Array;
  private arrivals: Float64Array;
  private count = 0;
  private blockedSince = NaN;

  constructor(
    private readonly g: Geometry,
    readonly batchSize: number,
  ) {
    this.buffer = new Uint8Array(batchSize * g.packetBytes);
    this.arrivals = new Float64Array(batchSize);
  }

  /** Packets in the batch being filled. */
  get pending(): number {
    return this.count;
  }

  /** See Batch.blockedSince, for the batch being filled. */
  get blockedSinceMs(): number {
    return this.blockedSince;
  }

  /**
   * Copies `packet` (exactly packetBytes long) into the current batch; `blocked` says every crypto slot was
   * busy when it arrived. Returns true when the batch is now full (the caller takes it).
   */
  add(packet: Uint8Array, arrivalMs: number, blocked: boolean): boolean {
    this.buffer.set(packet, this.count * this.g.packetBytes);
    this.arrivals[this.count] = arrivalMs;
    if (blocked && this.blockedSince !== this.blockedSince) this.blockedSince = arrivalMs;
    this.count++;
    return this.count >= this.batchSize;
  }

  /**
   * Hands out the oldest `max` packets (default: all) as a batch, null when empty. Packets left over move to
   * the front of the batch being filled, in order.
   */
  take(max = this.count): Batch | null {
    if (this.count === 0) return null;
    const n = Math.max(1, Math.min(max, this.count));
    const N = this.g.packetBytes;
    const full = n === this.batchSize;
    const buffer = full ? this.buffer.buffer : this.buffer.buffer.slice(0, n * N);
    const arrivals = full ? this.arrivals : this.arrivals.slice(0, n);
    if (full) {
      this.buffer = new Uint8Array(this.batchSize * N);
      this.arrivals = new Float64Array(this.batchSize);
    }
    const batch: Batch = { buffer: buffer as ArrayBuffer, count: n, arrivals, blockedSince: this.blockedSince };
    const rest = this.count - n;
    if (rest > 0) {
      this.buffer.copyWithin(0, n * N, this.count * N);
      this.arrivals.copyWithin(0, n, this.count);
    }
    this.count = rest;
    // The leftovers waited as long as the batch handed out (the blocked time stays with both).
    if (rest === 0) this.blockedSince = NaN;
    return batch;
  }

  /** Discards the current batch and returns how many packets were in it. */
  close(): number {
    const n = this.count;
    this.count = 0;
    this.blockedSince = NaN;
    return n;
  }
}
